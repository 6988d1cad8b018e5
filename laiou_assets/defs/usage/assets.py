"""使用量 / a daily snapshot of how much the marts are used, kept in audit (laiou_assets/usage.py)."""

import dagster as dg

from laiou_assets.keys import DIM_ENTERPRISE, SUMMARY_MART, TAX_FACTS
from laiou_assets.resources import WarehouseResource
from laiou_assets.usage import BASELINE_2018_OPENS_PER_YEAR, UsageUnavailable, monthly_usage, take_snapshot


@dg.asset(
    key=["audit", "mart_usage"],
    deps=[SUMMARY_MART, DIM_ENTERPRISE, TAX_FACTS],  # the marts whose use it counts
    group_name="operations",
    kinds={"postgres"},
    description=(
        "使用量 / statements run on the marts by laiou_bi and each district role, from PostgreSQL's "
        "pg_stat_statements: snapshots in audit.usage_snapshot, per role and month in audit.mart_usage_monthly "
        f"(2018 baseline: {BASELINE_2018_OPENS_PER_YEAR} opens of the old system in the year)."
    ),
)
def mart_usage(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        try:
            counts = take_snapshot(conn)
        except UsageUnavailable as exc:
            context.log.warning(str(exc))
            return dg.MaterializeResult(metadata={"measured": False, "reason": str(exc)})
        months = monthly_usage(conn)
    latest = max((m for m, _, _ in months), default=None)
    this_month = {role: n for m, role, n in months if m == latest}
    return dg.MaterializeResult(
        metadata={
            "measured": True,
            "statements_since_counting_began": sum(counts.values()),
            "this_month": sum(this_month.values()),
            "this_month_by_role": dg.MetadataValue.json(this_month),
            "baseline_2018_opens_per_year": BASELINE_2018_OPENS_PER_YEAR,
        }
    )


mart_usage_job = dg.define_asset_job(
    name="snapshot_mart_usage", selection=[mart_usage.key], description="使用量 / snapshot the use of the marts."
)
mart_usage_schedule = dg.ScheduleDefinition(
    job=mart_usage_job,
    cron_schedule="55 23 * * *",  # daily, so that a month's use is attributed to it within minutes
    name="daily_mart_usage",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="使用量 / every day at 23:55 (Asia/Shanghai), count the statements of the reading roles on the marts.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[mart_usage], jobs=[mart_usage_job], schedules=[mart_usage_schedule])
