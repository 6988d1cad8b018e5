"""`laiou run`: every delivered month of every feed, then the dbt models, through the Dagster definitions.

Runs execute in this process but are recorded in the Dagster instance ($DAGSTER_HOME), so the UI shows
them like any other run. One run per delivery month keeps each month's materialization and check
result exact in the UI.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from laiou_assets import building, health, migrations, settings, warehouse
from laiou_assets.building import QUIET
from laiou_assets.definitions import defs
from laiou_assets.generate.weights import EXPECTED_WARNINGS
from laiou_assets.ingest import arrivals
from laiou_assets.ingest.landing import Delivery, scan
from laiou_assets.ingest.loader import clean_stale_scratch, record_dead_attempts
from laiou_assets.keys import PROCESS_TAG, REPOSITORY_LABEL, REPOSITORY_TAG, raw_asset_key
from laiou_assets.partitions import TIMEZONE
from laiou_assets.report import summary_table
from ops_checks.incidents import blocking_incidents, process_events
from ops_checks.operations import inspection_tags


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _failed_checks(evaluations, error: bool) -> list[dg.AssetCheckKey]:
    """Checks that did not pass, of ERROR severity (they fail the run) or not (warnings)."""
    return [
        e.asset_check_key for e in evaluations if not e.passed and (e.severity == dg.AssetCheckSeverity.ERROR) == error
    ]


def _in_range(deliveries: list[Delivery], first: str | None, last: str | None) -> list[Delivery]:
    lo = first.replace("-", "") if first else "000000"
    hi = last.replace("-", "") if last else "999999"
    return [d for d in deliveries if lo <= d.period <= hi]


def run_everything(
    first: str | None = None,
    last: str | None = None,
    reload: bool = False,
    build: bool = True,
    operations: bool = False,
) -> int:
    """Load what arrived (or, with `reload`, every delivery) and build the marts; with `operations`, also
    back up the warehouse and write the inspection report (schedules do both in production); returns the
    exit code.

    What "arrived" means is decided as the arrival sensor decides it (`ingest/arrivals.py`).
    """

    warehouse.ensure_dagster_instance()
    with warehouse.connect(warehouse.database_url(start=True)) as conn:
        start, end = migrations.upgrade(conn)  # the raw and audit schemas, before anything reads them
    if start != end:
        _say(f"raw and audit upgraded from {start or 'no revision'} to revision {end}")
    instance = dg.DagsterInstance.get()
    _clean_up_after_killed_runs(instance)
    found = scan(settings.landing_dir())
    for line in found.warnings:  # a bad folder stops nothing: named, and the rest loads
        _say(f"warning: {line}")
    complete = _in_range(found.deliveries, first, last)
    if not complete:
        if found.deliveries:  # the zone has deliveries, the range has none
            months = sorted({d.partition_key[:7] for d in found.deliveries})
            _say(
                f"laiou run: no delivery between {first or '…'} and {last or '…'}; the landing zone holds "
                f"{months[0]} … {months[-1]}"
            )
        else:
            _say(
                f"laiou run: no complete delivery (CSV + manifest) in {settings.landing_dir()}; "
                "run `laiou generate` or set LAIOU_LANDING_DIR"
            )
        return 1
    if reload:
        deliveries = complete
    else:
        with warehouse.connect() as conn:
            deliveries = _in_range(arrivals.pending(settings.landing_dir(), conn), first, last)
        if len(deliveries) < len(complete):
            with warehouse.connect() as conn:
                failed_now = {(f.feed, f"{f.period:%Y%m}") for f in health.failed_deliveries(conn)}
            waiting = [d for d in complete if d not in deliveries]
            stuck = [d for d in waiting if (d.feed, d.period) in failed_now]
            _say(
                f"{len(waiting) - len(stuck)} of {len(complete)} deliveries already loaded since they arrived"
                + (f", {len(stuck)} failed and not redelivered since" if stuck else "")
                + " (`laiou run --reload` loads them again)"
            )
    by_month = arrivals.by_month(deliveries)  # the arrival sensor plans its runs the same way

    definitions = defs()
    ingest = definitions.resolve_job_def("ingest_feeds")
    ours = in_process_tags()
    failures: list[str] = []
    started = time.perf_counter()
    _say(f"full log (dbt, Dagster): {building.run_log()}")
    if deliveries:
        _say(
            f"loading {_count(len(deliveries), 'delivery', 'deliveries')} in {_count(len(by_month), 'month')} "
            f"from {settings.landing_dir()}"
        )
    for i, (month, feeds) in enumerate(sorted(by_month.items()), 1):
        t0 = time.perf_counter()
        result = ingest.execute_in_process(
            partition_key=month,
            instance=instance,
            raise_on_error=False,
            run_config=QUIET,
            asset_selection=[raw_asset_key(f) for f in feeds],
            tags=ours,
        )
        rows = {}
        for event in result.get_asset_materialization_events():
            meta = event.materialization.metadata
            rows[event.asset_key.path[-1]] = (meta["loaded"].value, meta["quarantined"].value)
        evaluations = result.get_asset_check_evaluations()
        bad_checks = [k.asset_key.path[-1] for k in _failed_checks(evaluations, error=True)]
        warned = [k.to_user_string() for k in _failed_checks(evaluations, error=False)]
        parts = [
            f"{f} {rows[f][0]:,}" + (f" (+{rows[f][1]:,} quarantined)" if rows[f][1] else "")
            for f in feeds
            if f in rows
        ]
        ok = result.success and not bad_checks
        details: list[str] = []
        if not ok:
            failed_feeds = [f for f in feeds if f not in rows] + bad_checks
            failures.append(f"{month[:7]}: {', '.join(failed_feeds)} (run {result.run_id})")
            parts.append(f"FAILED: {', '.join(failed_feeds)} — see `dagster` run {result.run_id[:8]} or audit.load_log")
            details = _load_failures(month, [f for f in feeds if f not in rows])
        if warned:
            parts.append(f"warning: {', '.join(warned)} (see the check's result in the UI)")
        _say(
            f"[{i}/{len(by_month)}] {month[:7]} {'ok ' if ok else 'ERR'} {time.perf_counter() - t0:5.1f}s  "
            + "; ".join(parts)
        )
        for line in details:
            _say(f"    {line}")

    if not build:  # only the loads (bench/build.py times the build itself)
        return 1 if failures else 0
    blocked = _record_incidents(instance)
    if blocked:  # inspect those months again: what was fixed since (a table, a redelivery) resolves them
        inspect = definitions.resolve_job_def("inspect_feeds")
        for month in sorted({partition for _, partition, _ in blocked if partition}):
            inspect.execute_in_process(
                instance=instance, raise_on_error=False, run_config=QUIET, tags={**inspection_tags(month), **ours}
            )
        blocked = _record_incidents(instance)

    # The models' automation conditions decide what is built, as the sensor laiou_automation does for the
    # daemon; they request nothing while a feed month has failed.
    outcome = building.build_requested(definitions, instance, ours, _say)
    with warehouse.connect() as conn:
        failed = health.failed_deliveries(conn)
    if failed:  # until a good delivery replaces it, a failed month stays failed and nothing is built over it
        _record_incidents(instance)  # the failed load's incident and alert, now rather than after its fix
        built_at = building.marts_current(instance)[1]
        kept = "the marts keep their last good state" if built_at else "no mart is built until then"
        _say(
            f"laiou run: FAILED — {kept}; the latest delivery of these months failed to load:\n  "
            + "\n  ".join(str(f) for f in failed)
            + "\n  (a corrected delivery, with its new manifest, loads on the next run and the build goes on; files"
            " mended in place load with `laiou run --reload --from YYYY-MM --to YYYY-MM`; audit.load_log)"
        )
        return 1
    if blocked:
        _say(
            "laiou run: FAILED — the marts are not built on data that fails an ERROR check:\n  "
            + "\n  ".join(f"{subject} {month[:7]}: {message}" for subject, month, message in blocked)
            + "\n  (docs/runbook.md; audit.incident holds them until the check passes again)"
        )
        return 1
    current, built_at, _ = building.marts_current(instance)
    if not outcome.runs and not current:  # built before the cursor existed, or a build failed after its request
        _say("the marts are older than the last load: building every model and tax month")
        outcome = building.build_all(definitions, instance, ours, _say)
    if not outcome.runs and not operations:
        built = built_at.astimezone(ZoneInfo(TIMEZONE))
        _say(
            f"nothing new: every delivery is loaded and the marts are current (built {built:%Y-%m-%d %H:%M} {TIMEZONE})"
        )
        return 0
    failures += outcome.failures
    last_month = max(d.partition_key for d in complete)
    # Then what reads the marts (their schedules make them in production): the districts' packages of the
    # last month, a usage snapshot; with `operations`, a backup proven by a restore, and the report of the
    # last delivery with its year's summary.
    products = (
        []
        if outcome.failures
        else [("export_district_packages", {"partition_key": last_month}), ("snapshot_mart_usage", {})]
    )
    if operations:  # the reports are dated by the data they cover
        products.append(("backup_warehouse", {}))
        products += [("monthly_inspection", {"partition_key": m}) for m in _months_to_report(last_month, complete)]
        if last_month[5:7] == "12":  # the year's months are in: its summary
            products.append(("annual_om_summary", {"partition_key": last_month[:4]}))
    reported = False
    for job, kwargs in products:
        if job == "monthly_inspection" and not reported:
            _record_incidents(instance)  # so that the reports list what the build's checks found
        ok = building.execute(definitions, instance, job, {**kwargs, "tags": ours}, _say)
        if not ok:
            failures.append(f"{job}: see the run in the UI")
        reported |= job == "monthly_inspection" and ok
    _record_incidents(instance)
    _say(f"done in {time.perf_counter() - started:.1f}s")
    if reported:  # only a report this run wrote, never one left by an earlier run
        report = settings.laiou_home() / "reports" / last_month[:7]
        _say(f"inspection report 月度巡检报告: {report / f'inspection_{report.name}.html'}")
        if last_month[5:7] == "12":
            summary = settings.laiou_home() / "reports" / last_month[:4]
            _say(f"annual O&M summary 运维总结报告: {summary / f'annual_om_summary_{summary.name}.html'}")
    if failures:
        _say("laiou run: FAILED\n  " + "\n  ".join(failures))
        return 1
    return 0


def _load_failures(month: str, feeds: list[str]) -> list[str]:
    """What audit.load_log says of each feed's failed attempt this month: one line each, naming the file."""
    if not feeds:
        return []
    with warehouse.connect() as conn:
        rows = conn.execute(
            """select distinct on (feed) feed, message from audit.load_log
               where feed = any(%s) and period = %s and outcome = 'failed' order by feed, load_id desc""",
            [feeds, month],
        ).fetchall()
    return [f"{feed}: {message}" for feed, message in rows]


def _clean_up_after_killed_runs(instance: dg.DagsterInstance) -> None:
    """What an earlier `laiou run` or load killed mid-way left: its Dagster runs still STARTED, its load
    attempts not logged, scratch folders of earlier versions. Each is named."""
    for line in fail_orphaned_runs(instance):
        _say(f"warning: {line}")
    with warehouse.connect(autocommit=True) as conn:
        for line in record_dead_attempts(conn):
            _say(f"warning: load attempt died: {line}")
    for folder in clean_stale_scratch():
        _say(f"removed {folder}, left by a load that was killed")


def in_process_tags() -> dict[str, str]:
    """The tags of every run this process executes itself: the process (to tell when it is gone) and the code
    location (so that the UI's job pages list the run)."""
    return {PROCESS_TAG: process_token(os.getpid()), REPOSITORY_TAG: REPOSITORY_LABEL}


def process_token(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or ''}"


def _process_start(pid: int) -> str | None:
    """When the process started (Linux: clock ticks since boot; elsewhere ""), or None if there is none.
    With the pid, it tells a process from a later one that was given the same pid."""
    if Path("/proc/self/stat").exists():
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        except (OSError, IndexError):
            return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs `laiou run` executed in a process of this host that is gone (killed) while they
    were running: Dagster's run monitoring only watches runs launched through a run launcher."""
    host = socket.gethostname()
    unfinished = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    lines = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished)):
        token = run.tags.get(PROCESS_TAG)
        if not token or token.count(":") < 2:
            continue
        run_host, pid, start = token.rsplit(":", 2)
        if run_host != host or not pid.isdigit() or _process_start(int(pid)) == start:
            continue  # another machine's, or its process is still running
        message = f"the process that ran it ({host}, pid {pid}) is gone: it was killed before the run ended"
        instance.report_run_failed(run, message)
        lines.append(f"run {run.run_id[:8]} ({run.job_name}) marked failed: {message}")
    return lines


def _record_incidents(instance) -> list[tuple[str, str, str]]:
    """Incidents of the checks and runs so far (as the incident sensor would), and those that block a build."""
    with warehouse.connect() as conn:
        changes = process_events(instance, conn, log=lambda msg: None)
        if changes["opened"] or changes["resolved"]:
            # each check once, with how many months it opened for (a first load of years opens dozens)
            checks = Counter(f"{severity} {name}" for severity, name in changes["opened_checks"])
            which = ", ".join(f"{check} ×{n}" if n > 1 else check for check, n in checks.items())
            which = f" ({which})" if which else ""
            _say(f"incidents: {changes['opened']} opened{which}, {changes['resolved']} resolved (audit.incident)")
        return blocking_incidents(conn)


def _months_to_report(last_month: str, delivered: list[Delivery]) -> list[str]:
    """The delivered months of `last_month`'s year that have no inspection report yet, and `last_month`
    itself (made again: this run may have changed it), oldest first."""
    with warehouse.connect() as conn:
        done = set()
        if health.table_exists(conn, "audit.inspection_report"):
            done = {f"{m:%Y-%m-%d}" for (m,) in conn.execute("select month from audit.inspection_report")}
    year = {
        d.partition_key for d in delivered if d.partition_key[:4] == last_month[:4] and d.partition_key <= last_month
    }
    return sorted(m for m in year if m not in done or m == last_month)


def explain_warnings() -> None:
    """Each open warning in one line: the ones the sample data makes on purpose say why."""
    with warehouse.connect() as conn:
        warnings = [i for i in health.open_incidents(conn) if i[0] == "WARN"]
    for _, subject, month, message, _ in warnings:
        name = subject.rsplit(":", 1)[-1]
        if name in EXPECTED_WARNINGS:
            print(f"expected warning 预期警告: {name} — {EXPECTED_WARNINGS[name]}", file=sys.stderr)
        else:
            print(f"warning 警告: {subject} {month[:7]}: {message}", file=sys.stderr)


def print_summary() -> None:
    with warehouse.connect() as conn:
        print(summary_table(conn))
