"""Where each check's runbook entry is (docs/runbook.md, one section per check) and how results carry it."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

RUNBOOK = Path(__file__).resolve().parent.parent / "docs" / "runbook.md"


def runbook_url(check_name: str) -> str:
    """The check's section: under LAIOU_RUNBOOK_URL (e.g. the repository's web page) or the local file."""
    base = os.environ.get("LAIOU_RUNBOOK_URL") or RUNBOOK.as_uri()
    return f"{base}#{check_name}"


def runbook_sections() -> list[str]:
    """The check names that have a section (`## name`) in the runbook."""
    return [line[3:].strip() for line in RUNBOOK.read_text(encoding="utf-8").splitlines() if line.startswith("## ")]


@dataclass
class Finding:
    """What a check found for one month (or for the whole warehouse): the verdict and the numbers behind it."""

    passed: bool
    facts: dict = field(default_factory=dict)  # expected, observed, threshold… as shown to a person
    sample: list = field(default_factory=list)  # a few offending rows


def check_result(check_name: str, severity: dg.AssetCheckSeverity, findings: dict[str, Finding]) -> dg.AssetCheckResult:
    """One result for the months (or the single key "all") a run checked, with the runbook link."""
    failed = {key: f for key, f in findings.items() if not f.passed}
    metadata: dict = {"runbook": dg.MetadataValue.url(runbook_url(check_name))}
    if len(findings) == 1:
        only = next(iter(findings.values()))
        metadata.update({k: v for k, v in only.facts.items() if v is not None})
        if only.sample:
            metadata["sample"] = dg.MetadataValue.json(only.sample)
    else:
        metadata.update({"months_checked": len(findings), "months_failed": len(failed)})
        if failed:
            metadata["failures"] = dg.MetadataValue.json({k[:7]: f.facts for k, f in failed.items()})
    return dg.AssetCheckResult(passed=not failed, severity=severity, metadata=metadata)
