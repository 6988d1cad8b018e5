"""Where each check's runbook entry is (docs/runbook.md, one section per check) and how results carry it."""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import dagster as dg

from laiou_assets import settings

RUNBOOK = Path(__file__).resolve().parent.parent / "docs" / "runbook.md"


def runbook_url(check_name: str) -> str:
    """The check's section: under LAIOU_RUNBOOK_URL (where the office publishes docs/runbook.md), else its
    place in the repository, which means the same on every machine (never a path of the one that ran it)."""
    base = settings.current().runbook_url
    return f"{base}#{check_name}" if base else f"docs/runbook.md#{check_name}"


@cache
def _sections() -> dict[str, str]:
    """The runbook read once: each `## name` section's Markdown, by name."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def runbook_sections() -> tuple[str, ...]:
    """The check names that have a section (`## name`) in the runbook."""
    return tuple(_sections())


def section_of(check_name: str) -> str:
    """The check's own section; a family's (`## tax_conserved` for the dbt tests `tax_conserved_*`); else the
    dbt tests' section for a dbt test (they are documented in the models)."""
    if check_name in _sections():
        return check_name
    family = [name for name in _sections() if check_name.startswith(f"{name}_")]
    return max(family, key=len) if family else "dbt_tests"


def runbook_text(check_name: str) -> str:
    """The check's section of the runbook itself (Markdown), for results and reports that must stand alone."""
    return _sections()[section_of(check_name)]


def runbook_for(check_name: str) -> str:
    """Where the check's section is (see runbook_url), a dbt test's being the dbt tests' section."""
    return runbook_url(section_of(check_name))


@dataclass
class Finding:
    """What a check found for one month (or for the whole warehouse): the verdict and the numbers behind it."""

    passed: bool
    facts: dict = field(default_factory=dict)  # expected, observed, threshold… as shown to a person
    sample: list = field(default_factory=list)  # a few offending rows


@dataclass(frozen=True)
class FeedCheck:
    """One check of a raw feed month: `evaluate(conn, landing, feed, partition_key, thresholds) -> Finding`."""

    name: str
    description: str
    severity: dg.AssetCheckSeverity
    evaluate: Callable[..., Finding]
    feeds: tuple[str, ...] | None = None  # None: every feed


def check_result(
    check_name: str,
    severity: dg.AssetCheckSeverity,
    findings: dict[str, Finding],
    asset_key: dg.AssetKey | None = None,
) -> dg.AssetCheckResult:
    """One result for the months (or the single key "all") a run checked, with the runbook link."""
    failed = {key: f for key, f in findings.items() if not f.passed}
    # The runbook section travels with the result: the UI shows it wherever the UI is opened.
    metadata: dict = {
        "runbook": dg.MetadataValue.md(runbook_text(check_name)),
        "runbook_section": runbook_url(check_name),
    }
    if len(findings) == 1:
        only = next(iter(findings.values()))
        metadata.update({k: v for k, v in only.facts.items() if v is not None})
        if only.sample:
            metadata["sample"] = dg.MetadataValue.json(only.sample)
    else:
        metadata.update({"months_checked": len(findings), "months_failed": len(failed)})
        if failed:
            metadata["failures"] = dg.MetadataValue.json({k[:7]: f.facts for k, f in failed.items()})
    return dg.AssetCheckResult(
        passed=not failed, severity=severity, metadata=metadata, check_name=check_name, asset_key=asset_key
    )
