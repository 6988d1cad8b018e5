"""The inspection report's check table: the latest result of each check, grouped by the feed or mart it
checks, each saying what it checks (or what failed) and linking its runbook section, copied into the report."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import dagster as dg

from laiou_assets import settings
from laiou_assets.contract import FEEDS
from ops_checks.access import ACCESS_CHECK
from ops_checks.backups import RESTORE_CHECK
from ops_checks.dbt_tests import failure_message, meaning
from ops_checks.events import check_evaluations, runs_ended_after
from ops_checks.feeds import checks_of
from ops_checks.report_files import Heading, Link, Note
from ops_checks.runbook import runbook_for, runbook_text, section_of


def latest_check_results(instance: dg.DagsterInstance) -> dict[tuple[str, str], dict]:
    """(check, partition or "") → the latest evaluation: passed, severity, problem, when."""
    latest: dict[tuple[str, str], dict] = {}
    for ended in runs_ended_after(instance, 0):
        for e, at in check_evaluations(instance, ended.run_id):
            latest[(e.asset_check_key.to_user_string(), e.partition or "")] = {
                "passed": e.passed,
                "severity": e.severity.value,
                "problem": "" if e.passed else failure_message(e.asset_check_key.name, e.metadata) or "",
                "at": datetime.fromtimestamp(at, UTC),
                "name": e.asset_check_key.name,
            }
    return latest


@cache
def _own_check_meanings() -> dict[str, str]:
    """The descriptions of laiou's own checks (the feeds', access and restore); the dbt tests have theirs."""
    feed_checks = {check.name: check.description for feed in FEEDS for check in checks_of(feed)}
    return {**feed_checks, "access_as_warehouse_md_says": ACCESS_CHECK, "restores_with_equal_row_counts": RESTORE_CHECK}


def _meaning(check_name: str) -> str:
    """What a check checks, in its first sentence (中文 / English): a feed check's description, a dbt test's."""
    own = _own_check_meanings().get(check_name)
    if own:  # its first sentence, without the parenthesis of thresholds
        return own.split(". ")[0].split(" (")[0]
    return (meaning(check_name) or "")[:200]


def _runbook_link(check_name: str) -> Link:
    """To the check's runbook section: the office's published runbook (LAIOU_RUNBOOK_URL), else the copy of
    the section at the end of the report itself, so that the link works in a browser and in an e-mail."""
    section = section_of(check_name)
    return Link(section, runbook_for(check_name) if settings.current().runbook_url else f"#runbook-{section}")


def runbook_notes(rows: list) -> list[Note]:
    """The runbook sections the check table links to, in the order they first appear."""
    sections = dict.fromkeys(row[-1].text for row in rows if not isinstance(row, Heading))
    return [Note(f"runbook-{name}", f"处置手册 / Runbook: {name}", runbook_text(name)) for name in sections]


# The layers in the order data flows through them, each named for the table's group heading.
LAYERS = {
    "raw": "数据源 feed",
    "staging": "标准化 staging",
    "intermediate": "中间层 intermediate",
    "marts": "集市 mart",
    "operations": "运维 operations",
}


def check_table(instance, data_month: str) -> tuple[list[list | Heading], dict]:
    """The checks grouped by the feed or mart they check, in the order of the layers; failures first."""
    by_asset: dict[str, list[list]] = {}
    for (check, partition), r in latest_check_results(instance).items():
        if partition not in ("", data_month):
            continue
        verdict = "passed 通过" if r["passed"] else f"FAILED 未通过 ({r['severity']})"
        said = r["problem"][:200] if not r["passed"] else _meaning(r["name"])
        asset = check.rsplit(":", 1)[0]
        by_asset.setdefault(asset, []).append(
            [r["name"], partition[:7] or "—", verdict, said, _runbook_link(r["name"])]
        )
    order = list(LAYERS)
    rows: list[list | Heading] = []
    for asset in sorted(by_asset, key=lambda a: (order.index(a.split("/")[0]) if a.split("/")[0] in order else 99, a)):
        layer, _, name = asset.partition("/")
        label = FEEDS[name].label if layer == "raw" and name in FEEDS else LAYERS.get(layer)
        rows.append(Heading(f"{asset} — {label}" if label else asset))
        rows += sorted(by_asset[asset], key=lambda r: (not r[2].startswith("FAILED"), r[0]))
    results = [r for checks in by_asset.values() for r in checks]
    failed = sum(1 for r in results if r[2].startswith("FAILED"))
    return rows, {"checks": len(results), "checks_failed": failed}
