"""对账 / reconciliation of each loaded feed month against its manifest and against the tables themselves.

For the month: the latest load attempt succeeded; loaded + quarantined = manifest rows; the rows in
raw.<feed> and audit.quarantine are the ones the load log says; the control total of the loaded rows
recomputed from raw.<feed>, plus that of the quarantined rows, equals the manifest's (feeds.md).
"""

import dagster as dg

from laiou_assets.contract import FEEDS
from ops_checks.runbook import FeedCheck, Finding

RECONCILE_SQL = """
with last_load as (
    select * from audit.load_log
    where feed = %(feed)s and period = %(period)s
    order by load_id desc limit 1
),
ok_load as (
    select * from audit.load_log
    where feed = %(feed)s and period = %(period)s and outcome = 'loaded'
    order by load_id desc limit 1
)
select
    (select outcome from last_load) as last_outcome,
    (select message from last_load) as last_message,
    ok_load.rows, ok_load.loaded, ok_load.quarantined,
    ok_load.control_total_expected, ok_load.control_total_loaded, ok_load.control_total_quarantined,
    (select count(*) from raw.{feed} where _period = %(period)s) as raw_rows,
    (select coalesce(sum({column}), 0) from raw.{feed} where _period = %(period)s) as raw_total,
    (select count(*) from audit.quarantine where feed = %(feed)s and period = %(period)s) as quarantine_rows
from (select 1) as one left join ok_load on true
"""


def reconcile_month(conn, feed_name: str, partition_key: str) -> Finding:
    feed = FEEDS[feed_name]
    row = conn.execute(
        RECONCILE_SQL.format(feed=feed.name, column=feed.control_column),
        {"feed": feed.name, "period": partition_key},
    ).fetchone()
    (
        outcome,
        message,
        rows,
        loaded,
        quarantined,
        expected,
        total_loaded,
        total_quarantined,
        raw_rows,
        raw_total,
        quarantine_rows,
    ) = row
    facts = {
        "month": partition_key[:7],
        "last_outcome": outcome,
        "manifest_rows": rows,
        "loaded": loaded,
        "quarantined": quarantined,
        "raw_rows": raw_rows,
        "quarantine_rows": quarantine_rows,
        f"control_total_{feed.control_column}_manifest": str(expected),
        f"control_total_{feed.control_column}_raw": str(raw_total),
        f"control_total_{feed.control_column}_quarantined": str(total_quarantined),
    }
    if outcome is None:
        return Finding(False, {**facts, "problem": "never loaded"})
    if outcome != "loaded":
        return Finding(False, {**facts, "problem": f"the latest load failed: {message}"})
    problems = []
    if loaded + quarantined != rows:
        problems.append(f"loaded {loaded} + quarantined {quarantined} ≠ manifest rows {rows}")
    if raw_rows != loaded:
        problems.append(f"raw.{feed.name} holds {raw_rows} rows for the month, the load logged {loaded}")
    if quarantine_rows != quarantined:
        problems.append(f"audit.quarantine holds {quarantine_rows} rows, the load logged {quarantined}")
    if raw_total != total_loaded or raw_total + total_quarantined != expected:
        problems.append(f"control total: raw {raw_total} + quarantined {total_quarantined} ≠ manifest {expected}")
    return Finding(not problems, {**facts, "problem": "; ".join(problems) or "none"})


RECONCILIATION = FeedCheck(
    "reconciles_with_manifest",
    "对账 / reconciliation: loaded + quarantined = manifest rows, and the control total matches the manifest "
    "(feeds.md). ERROR: blocks the marts.",
    dg.AssetCheckSeverity.ERROR,
    lambda conn, landing, feed, key, t: reconcile_month(conn, feed, key),
)
