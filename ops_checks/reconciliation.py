"""对账 / reconciliation of each loaded feed month against its manifest and against the tables themselves.

For the month: the latest load attempt succeeded; loaded + quarantined = manifest rows; the rows in
raw.<feed> and audit.quarantine are the ones the load log says; the control total of the loaded rows
recomputed from raw.<feed>, plus that of the quarantined rows, equals the manifest's (feeds.md).
"""

import warnings

import dagster as dg

from laiou_assets.contract import FEEDS
from laiou_assets.defs.feeds.assets import raw_asset_key
from laiou_assets.partitions import monthly_partitions
from laiou_assets.resources import WarehouseResource

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


def reconcile_month(conn, feed_name: str, partition_key: str) -> tuple[bool, dict]:
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
        "month": partition_key,
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
        return False, {**facts, "problem": "never loaded"}
    if outcome != "loaded":
        return False, {**facts, "problem": f"the latest load failed: {message}"}
    problems = []
    if loaded + quarantined != rows:
        problems.append(f"loaded {loaded} + quarantined {quarantined} ≠ manifest rows {rows}")
    if raw_rows != loaded:
        problems.append(f"raw.{feed.name} holds {raw_rows} rows for the month, the load logged {loaded}")
    if quarantine_rows != quarantined:
        problems.append(f"audit.quarantine holds {quarantine_rows} rows, the load logged {quarantined}")
    if raw_total != total_loaded or raw_total + total_quarantined != expected:
        problems.append(f"control total: raw {raw_total} + quarantined {total_quarantined} ≠ manifest {expected}")
    return not problems, {**facts, "problem": "; ".join(problems) or "none"}


def build_reconciliation_check(feed_name: str) -> dg.AssetChecksDefinition:
    # Partition-aware checks are a preview feature of dagster 1.13; we use them on purpose so that each
    # month is checked on its own.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _reconciliation_check(feed_name)


def _reconciliation_check(feed_name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_asset_key(feed_name),
        name="reconciles_with_manifest",
        partitions_def=monthly_partitions,
        blocking=True,
        description=(
            f"对账 / reconciliation of raw.{feed_name}: loaded + quarantined = manifest rows, and the control "
            f"total of {FEEDS[feed_name].control_column} matches the manifest (feeds.md). Blocks the dbt models."
        ),
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        results = {}
        with warehouse.connect() as conn:
            for key in context.partition_keys:
                results[key] = reconcile_month(conn, feed_name, key)
        failed = {k: facts for k, (ok, facts) in results.items() if not ok}
        metadata = {"months_checked": len(results), "months_failed": len(failed)}
        if len(results) == 1:
            metadata.update({k: v for k, v in next(iter(results.values()))[1].items() if v is not None})
        if failed:
            metadata["failures"] = dg.MetadataValue.json(failed)
        return dg.AssetCheckResult(passed=not failed, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)

    return _check


def reconciliation_checks() -> list[dg.AssetChecksDefinition]:
    return [build_reconciliation_check(name) for name in FEEDS]
