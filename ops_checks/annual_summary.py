"""运维总结报告 / the annual O&M summary, built from the year's monthly inspection reports."""

import statistics
from datetime import date

from laiou_assets import migrations
from laiou_assets.usage import BASELINE_2018_OPENS_PER_YEAR
from ops_checks.report_charts import chart_series
from ops_checks.report_files import Report, Section, mib


def build_annual_summary(conn, year: int) -> Report:
    """运维总结报告: the year's monthly reports added up (as many of the twelve as were produced)."""
    migrations.ensure_current(conn)
    months = conn.execute(
        "select to_char(month, 'YYYY-MM'), figures from audit.inspection_report "
        "where month >= %s and month < %s order by month",
        [date(year, 1, 1), date(year + 1, 1, 1)],
    ).fetchall()

    def total(key: str) -> int:
        return sum(f.get(key) or 0 for _, f in months)

    hours = [f["median_hours_to_resolve"] for _, f in months if f.get("median_hours_to_resolve") is not None]
    sizes = [f["database_bytes"] for _, f in months if f.get("database_bytes")]
    usage = total("usage_statements")
    figures = {
        "year": year,
        "reports": len(months),
        "deliveries_due": total("deliveries_due"),
        "deliveries_received": total("deliveries_received"),
        "deliveries_on_time": total("deliveries_on_time"),
        "deliveries_missing": total("deliveries_missing"),
        "rows_loaded": total("rows_loaded"),
        "rows_quarantined": total("rows_quarantined"),
        "incidents_opened": total("incidents_opened"),
        "incidents_resolved": total("incidents_resolved"),
        "median_of_monthly_median_hours_to_resolve": round(statistics.median(hours), 2) if hours else None,
        "backups": total("backups"),
        "restores_equal": total("restores_equal"),
        "runs": total("runs"),
        "runs_failed": total("runs_failed"),
        "database_growth_bytes": sizes[-1] - sizes[0] if len(sizes) > 1 else None,
        "usage_statements": usage,
    }
    lines = [
        f"Built from {len(months)} of the year's 12 monthly inspection reports (the old system: 12 manual "
        "inspections a year).",
        f"Deliveries: {figures['deliveries_received']} received of {figures['deliveries_due']} due, "
        f"{figures['deliveries_on_time']} on time, {figures['deliveries_missing']} missing.",
        f"Rows: {figures['rows_loaded']:,} loaded, {figures['rows_quarantined']:,} quarantined.",
        f"Incidents: {figures['incidents_opened']} opened, {figures['incidents_resolved']} resolved.",
        f"Backups: {figures['backups']}, of which {figures['restores_equal']} proven by a restore.",
        f"Runs: {figures['runs']}, {figures['runs_failed']} failed.",
        f"Use of the marts: {usage:,} statements, against {BASELINE_2018_OPENS_PER_YEAR} opens of the old system "
        "in 2018.",
    ]
    section = Section(
        "年度汇总 / The year in figures",
        lines,
        [
            "month 月份",
            "deliveries received 到货",
            "rows loaded 装载行",
            "quarantined 隔离",
            "incidents 事件",
            "checks failed 未通过检查",
            "database 数据库",
        ],
        [
            [
                m,
                f.get("deliveries_received"),
                f.get("rows_loaded"),
                f.get("rows_quarantined"),
                f.get("incidents_opened"),
                f.get("checks_failed"),
                mib(f.get("database_bytes")),
            ]
            for m, f in months
        ],
        "rows_by_month.png",
    )
    chart = chart_series(
        [(m, f.get("rows_loaded") or 0) for m, f in months], "各报告装载行数 / Rows loaded per report", "行 rows"
    )
    return Report(f"运维总结报告 / Annual O&M summary {year}", [section], figures, {"rows_by_month.png": chart})
