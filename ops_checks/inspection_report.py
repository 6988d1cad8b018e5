"""月度巡检报告 / the monthly inspection report, and the annual O&M summary (运维总结报告) built from twelve.

The report of month M (run on the 1st of M+1) inspects the deliveries due in M — the data of month M−1,
due by the 20th — and the platform's operations since the previous report: incidents, backups, runs,
database size and the use of the marts. It is written as Markdown and HTML with PNG charts under
$LAIOU_HOME/reports/<YYYY-MM>/, its figures kept in audit.inspection_report for the annual summary.
"""

import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from laiou_assets import migrations
from laiou_assets.contract import FEEDS, QUARANTINE_REASONS
from laiou_assets.ingest.landing import Delivery, FileFault, Waiting, read_manifest
from laiou_assets.partitions import TIMEZONE
from laiou_assets.usage import BASELINE_2018_OPENS_PER_YEAR
from ops_checks.feed_arrival import Thresholds, due_at
from ops_checks.report_charts import chart_quarantine, chart_rows, chart_series
from ops_checks.report_checks import check_table, runbook_notes
from ops_checks.report_dashboard_views import dashboard_views_section
from ops_checks.report_files import Report, Section, mib
from ops_checks.report_revisions import revisions_table

SHANGHAI = ZoneInfo(TIMEZONE)
BATCH = timedelta(hours=1)  # reports made within this of each other were made together


def _local(moment: datetime | None) -> str:
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if moment else "—"


# ---------------------------------------------------------------------------------------------- gathering


def _deliveries(conn, landing: Path, data_month: str, now: datetime) -> tuple[list[list], dict]:
    t = Thresholds.from_env()
    rows, counts = [], {"due": 0, "received": 0, "on_time": 0, "late": 0, "missing": 0, "failed": 0}
    for feed in FEEDS:
        due = due_at(data_month, t.due_day_of(feed))
        delivery = Delivery(feed, data_month[:4] + data_month[5:7])
        load = conn.execute(
            "select outcome, rows, loaded, quarantined, message from audit.load_log "
            "where feed = %s and period = %s order by load_id desc limit 1",
            [feed, data_month],
        ).fetchone()
        try:
            produced = datetime.fromisoformat(str(read_manifest(delivery, landing).raw.get("produced_at")))
            status = "on time 按时" if produced <= due else "late 迟到"
        except Waiting:
            produced, status = None, ("missing 未到" if now > due else "not due yet 未到期")
        except (FileFault, ValueError):
            produced, status = None, "manifest unreadable 清单不可读"
        counts["due"] += now > due
        counts["received"] += produced is not None
        counts["on_time"] += status.startswith("on time")
        counts["late"] += status.startswith("late")
        counts["missing"] += status.startswith("missing")
        counts["failed"] += bool(load and load[0] == "failed")
        outcome, manifest_rows, loaded, quarantined, message = load or ("not loaded", None, None, None, None)
        rows.append(
            [
                feed,
                f"{due:%Y-%m-%d}",
                _local(produced),
                status,
                outcome if outcome != "failed" else f"failed: {message}",
                manifest_rows,
                loaded,
                quarantined,
            ]
        )
    return rows, counts


def _quarantine(conn, data_month: str) -> list[list]:
    found = conn.execute(
        "select feed, reason, count(*) from audit.quarantine where period = %s group by 1, 2 order by 1, 2",
        [data_month],
    ).fetchall()
    order = {r: i for i, r in enumerate(QUARANTINE_REASONS)}
    return [list(r) for r in sorted(found, key=lambda r: (r[0], order.get(r[1], 99)))]


def _incidents(conn, since: datetime | None, now: datetime) -> tuple[list[list], dict]:
    lo = since or datetime(1970, 1, 1, tzinfo=UTC)
    found = conn.execute(
        "select incident_id, kind, subject, partition_key, severity, opened_at, resolved_at, message "
        "from audit.incident where (opened_at > %(lo)s and opened_at <= %(hi)s) "
        "or (resolved_at > %(lo)s and resolved_at <= %(hi)s) or resolved_at is null order by opened_at",
        {"lo": lo, "hi": now},
    ).fetchall()
    rows, hours = [], []
    for _, _kind, subject, partition, severity, opened, resolved, message in found:
        if resolved and lo < resolved <= now:
            hours.append((resolved - opened).total_seconds() / 3600)
        rows.append(
            [
                subject,
                partition[:7] or "—",
                severity,
                _local(opened),
                _local(resolved) if resolved else "open 未解决",
                (message or "")[:160],
            ]
        )
    figures = {
        "incidents_opened": sum(1 for r in found if lo < r[5] <= now),
        "incidents_resolved": len(hours),
        "incidents_open": sum(1 for r in found if r[6] is None),
        "median_hours_to_resolve": round(statistics.median(hours), 2) if hours else None,
    }
    return rows, figures


def _database(conn) -> tuple[list[list], int]:
    total = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    by_schema = conn.execute(
        "select n.nspname, sum(pg_total_relation_size(c.oid))::bigint from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'm') "
        "and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') group by 1 order by 2 desc"
    ).fetchall()
    return [[schema, mib(size)] for schema, size in by_schema], total


def _backups(conn, since: datetime | None) -> tuple[list[list], dict]:
    found = conn.execute(
        "select started_at, outcome, bytes, path, removed_at, restore_outcome, message from audit.backup "
        "where started_at > %s order by started_at",
        [since or datetime(1970, 1, 1, tzinfo=UTC)],
    ).fetchall()
    rows = [
        [
            _local(s),
            outcome if outcome == "ok" else f"failed: {(msg or '')[:100]}",
            mib(size),
            Path(path).name + (" (removed by retention)" if removed else ""),
            restore or "not checked",
        ]
        for s, outcome, size, path, removed, restore, msg in found
    ]
    figures = {
        "backups": sum(1 for r in found if r[1] == "ok"),
        "backups_failed": sum(1 for r in found if r[1] != "ok"),
        "restores_equal": sum(1 for r in found if r[5] == "equal"),
        "restores_not_equal": sum(1 for r in found if r[5] in ("different", "failed")),
    }
    return rows, figures


def _runs(instance: dg.DagsterInstance, since: datetime | None) -> tuple[list[list], dict]:
    records = instance.get_run_records(filters=dg.RunsFilter(created_after=since) if since else None)
    by_job: dict[str, list] = {}
    for r in records:
        by_job.setdefault(r.dagster_run.job_name, []).append(r)
    rows = []
    for job, runs in sorted(by_job.items()):
        seconds = [r.end_time - r.start_time for r in runs if r.start_time and r.end_time]
        failed = sum(1 for r in runs if r.dagster_run.status == dg.DagsterRunStatus.FAILURE)
        rows.append(
            [
                job,
                len(runs),
                failed,
                f"{statistics.median(seconds):,.1f}" if seconds else "—",
                f"{max(seconds):,.1f}" if seconds else "—",
            ]
        )
    return rows, {"runs": len(records), "runs_failed": sum(r[2] for r in rows)}


def _usage(conn) -> list[tuple[str, int]]:
    """(month, statements of every reading role) for each month with usage snapshots."""
    if conn.execute("select to_regclass('audit.mart_usage_monthly')").fetchone()[0] is None:
        return []
    return [
        (f"{m:%Y-%m}", n)
        for m, n in conn.execute(
            "select month, sum(statements)::bigint from audit.mart_usage_monthly group by 1 order by 1"
        )
    ]


# ---------------------------------------------------------------------------------------------- the report


def build_monthly_report(
    conn, instance: dg.DagsterInstance, landing: Path, month: str, now: datetime, views: list[tuple] | None = None
) -> Report:
    """The report of the data month `month` (YYYY-MM-01): its deliveries (due by the 20th of the month after),
    and the platform's operations since the previous report; the use of the marts and of the dashboards
    (`views`: usage.dashboard_views, None where Superset is not set up) in the month it is made."""
    migrations.ensure_current(conn)
    data_month = month
    # Operations since the previous report made before this batch: reports made together (a first run, the
    # demo, a catch-up) all cover the time since the last one made before them, never a window of seconds.
    earlier = conn.execute(
        "select generated_at, figures from audit.inspection_report where month < %s order by generated_at desc",
        [month],
    ).fetchall()
    previous, batch_start = None, now
    for made_at, figures_then in earlier:
        if made_at >= batch_start - BATCH:  # made with this one: the batch began earlier
            batch_start = min(batch_start, made_at)
            continue
        previous = (made_at, figures_then)
        break
    since = previous[0] if previous else None
    window = f"Since the previous report ({_local(since)} {TIMEZONE})" if since else "Since records began"

    deliveries, delivery_figures = _deliveries(conn, landing, data_month, now)
    quarantine = _quarantine(conn, data_month)
    checks, check_figures = check_table(instance, data_month)
    revisions, revisions_said = revisions_table(conn)
    incidents, incident_figures = _incidents(conn, since, now)
    schemas, db_bytes = _database(conn)
    backups, backup_figures = _backups(conn, since)
    runs, run_figures = _runs(instance, since)
    usage = _usage(conn)
    history: dict[str, dict[str, int]] = {}
    for feed, period, loaded in conn.execute(
        "select distinct on (feed, period) feed, period, loaded from audit.load_log "
        "where outcome = 'loaded' and period > %s::date - interval '12 months' and period <= %s "
        "order by feed, period, load_id desc",
        [data_month, data_month],
    ):
        history.setdefault(feed, {})[f"{period:%Y-%m}"] = loaded
    sizes = conn.execute(
        "select to_char(month, 'YYYY-MM'), (figures->>'database_bytes')::bigint from audit.inspection_report "
        "where month < %s order by month desc limit 11",
        [month],
    ).fetchall()[::-1] + [(month[:7], db_bytes)]
    previous_bytes = previous[1].get("database_bytes") if previous else None

    made_in = f"{now.astimezone(SHANGHAI):%Y-%m}"  # usage is counted by the calendar, not by the data
    usage_month = next((n for m, n in usage if m == made_in), None)
    baseline_month = BASELINE_2018_OPENS_PER_YEAR / 12
    figures = {
        "month": month[:7],
        "data_month": data_month[:7],
        "generated_at": _local(now),
        **{f"deliveries_{k}": v for k, v in delivery_figures.items()},
        "rows_loaded": sum(r[6] or 0 for r in deliveries),
        "rows_quarantined": sum(n for *_, n in quarantine),
        **check_figures,
        "figures_revised": len(revisions),
        **incident_figures,
        "database_bytes": db_bytes,
        "database_growth_bytes": db_bytes - previous_bytes if previous_bytes is not None else None,
        **backup_figures,
        **run_figures,
        "usage_statements": usage_month,
        "dashboard_views": sum(n for m, *_, n in views if m == made_in) if views is not None else None,
    }
    sections = [
        Section(
            "到货 / The month's deliveries",
            [
                f"Data month {data_month[:7]}: {delivery_figures['received']} of {len(FEEDS)} deliveries received, "
                f"{delivery_figures['on_time']} on time, {delivery_figures['late']} late, "
                f"{delivery_figures['missing']} missing, {delivery_figures['failed']} failed to load."
            ],
            [
                "feed 数据源",
                "due 截止",
                "produced 生成",
                "status 状态",
                "load 装载",
                "rows 行数",
                "loaded 已装载",
                "quarantined 隔离",
            ],
            deliveries,
            "rows.png",
        ),
        Section(
            "隔离行 / Quarantined rows by reason",
            [f"{figures['rows_quarantined']:,} rows of {data_month[:7]} quarantined (audit.quarantine)."],
            ["feed 数据源", "reason 原因", "rows 行数"],
            quarantine,
            "quarantine.png" if quarantine else None,  # no empty chart
        ),
        Section(
            "检查结果 / Check results",
            [
                f"{check_figures['checks']} results (the latest of each check for {data_month[:7]} and of the "
                f"warehouse-wide checks), {check_figures['checks_failed']} failing."
            ],
            ["check 检查", "month 月份", "result 结果", "what it checks, or what failed 内容", "runbook 处置手册"],
            checks,
        ),
        Section(
            "修订 / Revisions of published figures",
            [revisions_said],
            [
                "year 年",
                "figure 指标",
                "name 名称",
                "published 发布值",
                "now 当前值",
                "change 变化",
                "delivered since 重新交付",
            ],
            revisions,
        ),
        Section(
            "事件 / Incidents",
            [
                f"{window}: {incident_figures['incidents_opened']} opened, {incident_figures['incidents_resolved']} "
                f"resolved, {incident_figures['incidents_open']} open now; median time to resolve "
                + (
                    f"{incident_figures['median_hours_to_resolve']} h."
                    if incident_figures["median_hours_to_resolve"] is not None
                    else "— (none resolved)."
                )
            ],
            ["subject 对象", "month 月份", "severity 级别", "opened 发生", "resolved 解决", "message 说明"],
            incidents,
        ),
        Section(
            "数据库 / Database size and growth",
            [
                f"{mib(db_bytes)} now"
                + (f", {mib(db_bytes - previous_bytes)} more than at the previous report." if previous_bytes else ".")
            ],
            ["schema 模式", "size 大小"],
            schemas,
            "database.png",
        ),
        Section(
            "备份 / Backups",
            [
                f"{window}: {backup_figures['backups']} backups, {backup_figures['backups_failed']} failed; "
                f"restore checks equal: {backup_figures['restores_equal']}, not equal or failed: "
                f"{backup_figures['restores_not_equal']}."
            ],
            ["taken 时间", "outcome 结果", "size 大小", "file 文件", "restore check 恢复验证"],
            backups,
        ),
        Section(
            "运行 / Runs and their durations",
            [f"{window}: {run_figures['runs']} runs, {run_figures['runs_failed']} failed."],
            ["job 作业", "runs 次数", "failed 失败", "median s 中位秒", "max s 最长秒"],
            runs,
        ),
        Section(
            "使用量 / Use of the marts",
            [
                f"Statements on the marts by laiou_bi and the district roles in {made_in}, when this report was made: "
                + (f"{usage_month:,}" if usage_month is not None else "not measured")
                + f", against the 2018 baseline of {BASELINE_2018_OPENS_PER_YEAR} opens a year "
                f"({baseline_month:g} a month). A statement is not an 'open': the comparison is an order of "
                "magnitude, not a ratio."
            ],
            ["month 月份", "statements 语句数"],
            [[m, n] for m, n in usage],
            "usage.png",
        ),
        dashboard_views_section(views, made_in, baseline_month),
    ]
    sections.append(  # last: the runbook sections the check table links to
        Section("处置手册 / Runbook: the sections the check table links to", notes=runbook_notes(checks))
    )
    charts = {
        "rows.png": chart_rows(history),
        **({"quarantine.png": chart_quarantine(quarantine)} if quarantine else {}),
        "database.png": chart_series(
            [(m, (b or 0) / 2**20) for m, b in sizes], "数据库大小 / Database size at each report", "MiB"
        ),
        "usage.png": chart_series(
            usage, "集市使用量 / Statements on the marts per month", "语句 statements", baseline_month
        ),
    }
    title = f"月度巡检报告 / Monthly inspection report — data of {month[:7]}"
    sections[0].text.insert(0, f"Made {_local(now)} ({TIMEZONE}); every time below is {TIMEZONE}.")
    return Report(title, sections, figures, charts)


def save_monthly(conn, report: Report, month: str, md_path: Path, html_path: Path, now: datetime) -> None:
    conn.execute(
        "insert into audit.inspection_report (month, generated_at, figures, markdown_path, html_path) "
        "values (%s, %s, %s, %s, %s) on conflict (month) do update set generated_at = excluded.generated_at, "
        "figures = excluded.figures, markdown_path = excluded.markdown_path, html_path = excluded.html_path",
        [month, now, json.dumps(report.figures, default=str), str(md_path), str(html_path)],
    )
