"""运维 / what runs the platform unattended: backups and their restore check, the purge of old run history,
the feed inspection job, and the schedules (all visible and startable in the Dagster UI)."""

import shutil
import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from laiou_assets import settings
from laiou_assets.contract import FEEDS
from laiou_assets.keys import BACKUP, LOAD_LOG, MONTHLY_REPORT, PARTITION_TAG, SUMMARY_MART, raw_asset_key
from laiou_assets.partitions import TIMEZONE as TZ
from laiou_assets.partitions import monthly_partitions
from laiou_assets.resources import LandingZoneResource, WarehouseResource
from laiou_assets.usage import dashboard_views
from ops_checks.annual_summary import build_annual_summary
from ops_checks.backups import RESTORE_CHECK, backup_dir, keep_count, restore_check, take_backup
from ops_checks.inspection_report import build_monthly_report, save_monthly
from ops_checks.report_files import reports_dir, write_report
from ops_checks.runbook import check_result


@dg.asset(
    key=BACKUP,
    deps=[LOAD_LOG, *(raw_asset_key(feed) for feed in FEEDS), SUMMARY_MART],  # what it saves (it dumps everything)
    group_name="operations",
    kinds={"postgres"},
    description=(
        "备份 / a pg_dump of the whole warehouse (custom format) in $LAIOU_HOME/backups, with the rows of every "
        "table counted in the dump's own snapshot; the newest LAIOU_BACKUP_KEEP (7) are kept (audit.backup)."
    ),
)
def warehouse_backup(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    done = take_backup(warehouse.url(), backup_dir(), keep_count())
    context.log.info(f"backup {done['path']}: {done['bytes'] / 2**20:,.1f} MiB in {done['seconds']}s")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.text(settings.shown(done["path"])),
            "bytes": done["bytes"],
            "tables": done["tables"],
            "rows": done["rows"],
            "seconds": done["seconds"],
            "removed_by_retention": len(done["removed"]),
        }
    )


@dg.asset_check(
    asset=BACKUP,
    name="restores_with_equal_row_counts",
    description=RESTORE_CHECK,
)
def backup_restores(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    finding = restore_check(warehouse.url())
    return check_result("restores_with_equal_row_counts", dg.AssetCheckSeverity.ERROR, {"all": finding})


backup_job = dg.define_asset_job(
    name="backup_warehouse",
    selection=dg.AssetSelection.assets(BACKUP),
    description="备份 / dump the warehouse, apply retention, and restore the dump to prove it.",
)

inspect_feeds_job = dg.define_asset_job(
    name="inspect_feeds",
    selection=dg.AssetSelection.checks_for_assets(*(raw_asset_key(feed) for feed in FEEDS)),
    description=(
        "巡检 / every check of the raw feeds for a month, without loading: finds the deliveries that never came "
        "(a month never loaded has no load run to check it)."
    ),
)


def inspection_tags(partition_key: str) -> dict[str, str]:
    """Run tags of an `inspect_feeds` run for a month. A job of checks only selects no asset, so Dagster
    cannot validate a partition_key for it; the partition tag gives the checks their month all the same."""
    return {PARTITION_TAG: partition_key}


# ---------------------------------------------------------------------------------------------- reports

yearly_partitions = dg.TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", start="2010", fmt="%Y", timezone=TZ)


@dg.asset(
    key=MONTHLY_REPORT,
    deps=[LOAD_LOG, *(raw_asset_key(feed) for feed in FEEDS)],  # the month's deliveries, loads and checks
    partitions_def=monthly_partitions,
    group_name="operations",
    kinds={"html", "markdown"},
    description=(
        "月度巡检报告 / monthly inspection report of data month M (made on the 21st of M+1, once M's deliveries "
        "were due): M's deliveries received and missing, rows loaded and quarantined by reason, every check's "
        "result, incidents, database size and growth, backups, run durations, the use of the marts and the "
        "dashboard views in Superset, with "
        "charts; Markdown and HTML under `$LAIOU_HOME/reports/<data month YYYY-MM>/`."
    ),
)
def monthly_inspection_report(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingZoneResource
) -> dg.MaterializeResult:
    month, now = context.partition_key, datetime.now(UTC)
    with warehouse.connect() as conn:
        views = dashboard_views(warehouse.url())  # Superset's log (issue #16), on the same server
        report = build_monthly_report(conn, context.instance, landing.root(), month, now, views)
        md, page, preview = write_report(report, reports_dir() / month[:7], f"inspection_{month[:7]}")
        save_monthly(conn, report, month, md, page, now)
    f = report.figures
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(preview),
            "html": dg.MetadataValue.text(settings.shown(page)),
            "markdown": dg.MetadataValue.text(settings.shown(md)),
            "deliveries_missing": f["deliveries_missing"],
            "rows_quarantined": f["rows_quarantined"],
            "checks_failed": f["checks_failed"],
            "incidents_open": f["incidents_open"],
        }
    )


@dg.asset(
    key=["reports", "annual_om_summary"],
    deps=[MONTHLY_REPORT],  # the year's monthly reports, added up
    partitions_def=yearly_partitions,
    group_name="operations",
    kinds={"html", "markdown"},
    description="运维总结报告 / annual O&M summary of a data year: the year's monthly inspection reports added up.",
)
def annual_om_summary(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    year = int(context.partition_key)
    with warehouse.connect() as conn:
        report = build_annual_summary(conn, year)
    md, page, preview = write_report(report, reports_dir() / str(year), f"annual_om_summary_{year}")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(preview),
            "html": dg.MetadataValue.text(settings.shown(page)),
            "monthly_reports": report.figures["reports"],
        }
    )


report_job = dg.define_asset_job(
    name="monthly_inspection",
    selection=[monthly_inspection_report.key],
    description="月度巡检 / produce a month's inspection report.",
)
annual_job = dg.define_asset_job(
    name="annual_om_summary",
    selection=[annual_om_summary.key],
    description="运维总结 / produce a year's O&M summary from its monthly reports.",
)


# ---------------------------------------------------------------------------------------------- purge


def purge_history(instance: dg.DagsterInstance, days: int, dbt_target) -> dict[str, int]:
    """Delete Dagster runs (with their event logs) and dagster-dbt's per-run target folders older than
    `days`. Materializations and check results of deleted runs go with them: the audit schema keeps what the
    office must keep (loads, quarantine, incidents, backups, reports)."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    records = instance.get_run_records(filters=dg.RunsFilter(created_before=cutoff))
    for record in records:
        instance.delete_run(record.dagster_run.run_id)
    folders = 0
    for folder in [*dbt_target.glob("*/"), *dbt_target_folders()]:
        if folder.is_dir() and folder.stat().st_mtime < cutoff.timestamp():
            shutil.rmtree(folder, ignore_errors=True)
            folders += 1
    return {"runs_deleted": len(records), "dbt_target_folders_deleted": folders}


def dbt_target_folders() -> list:
    """dagster-dbt's per-run folders under $LAIOU_HOME/dbt/target-*/ (defs/dbt/assets.dbt_target_dir)."""
    return [f for target in (settings.laiou_home() / "dbt").glob("target-*/") for f in target.glob("*/")]


@dg.op(description="清理 / delete run history older than LAIOU_KEEP_RUNS_DAYS (90) and old dagster-dbt target folders")
def purge_run_history(context: dg.OpExecutionContext) -> None:
    days = settings.current().keep_runs_days
    t0 = time.perf_counter()
    done = purge_history(context.instance, days, settings.DBT_TARGET_DIR)
    context.log.info(f"purged, keeping {days} days: {done} in {time.perf_counter() - t0:.1f}s")


@dg.job(name="purge_old_runs", description="清理 / purge Dagster run history and dbt target folders past retention")
def purge_job():
    purge_run_history()


# ---------------------------------------------------------------------------------------------- schedules


def _previous_month(scheduled: datetime) -> str:
    first = scheduled.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1).strftime("%Y-%m-%d")


@dg.schedule(
    job=inspect_feeds_job,
    cron_schedule="0 8 21 * *",
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    name="monthly_feed_inspection",
    description="巡检 / on the 21st, every feed check of the previous month, delivered or not.",
)
def monthly_feed_inspection(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(tags=inspection_tags(_previous_month(context.scheduled_execution_time)))


daily_backup = dg.ScheduleDefinition(
    name="daily_backup",
    job=backup_job,
    cron_schedule="30 1 * * *",
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="备份 / every day at 01:30, dump the warehouse, keep the newest 7 and prove the latest by a restore.",
)
weekly_purge = dg.ScheduleDefinition(
    name="weekly_purge",
    job=purge_job,
    cron_schedule="0 3 * * 0",
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="清理 / every Sunday at 03:00, delete run history and dbt target folders past LAIOU_KEEP_RUNS_DAYS.",
)

monthly_report_schedule = dg.build_schedule_from_partitioned_job(
    report_job,
    name="monthly_inspection_report",
    day_of_month=21,
    hour_of_day=9,  # after monthly_feed_inspection (08:00), the day after the deliveries were due
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "月度巡检报告 / on the 21st at 09:00 (Asia/Shanghai), the inspection report of last month's data, whose "
        "deliveries were due by the 20th."
    ),
)


@dg.schedule(
    job=annual_job,
    cron_schedule="0 10 21 1 *",
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    name="annual_om_summary",
    description="运维总结报告 / on 21 January at 10:00, the summary of the year before, after its December report",
)
def annual_summary_schedule(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(partition_key=str(context.scheduled_execution_time.year - 1))


# Loads follow arrivals (the sensor landing_zone_arrivals) and builds follow loads (declarative automation,
# laiou_assets/defs/automation): no schedule loads or builds.
SCHEDULES = [
    monthly_feed_inspection,
    daily_backup,
    weekly_purge,
    monthly_report_schedule,
    annual_summary_schedule,
]
JOBS = [backup_job, inspect_feeds_job, purge_job, report_job, annual_job]
ASSETS = [warehouse_backup, monthly_inspection_report, annual_om_summary]
