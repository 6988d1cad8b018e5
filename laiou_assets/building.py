"""自动构建 for `laiou run`: what the models' automation conditions (defs/automation/conditions.py) request,
built in this process and recorded in the Dagster instance.

It is the decision the sensor `laiou_automation` makes for the daemon, evaluated from `laiou run`'s own
cursor ($DAGSTER_HOME/laiou_run.automation_cursor): models whose inputs were updated (or that were never
built), then the tax months whose models were rebuilt, tick after tick until nothing more is requested;
nothing while a feed month has failed. There is no second list of what to build after a load.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from laiou_assets import health, settings, warehouse
from laiou_assets.defs.jobs import build_marts_job, refresh_tax_facts_job
from laiou_assets.keys import KIND_TAG, RANGE_END, RANGE_START, SUMMARY_MART, TAX_FACTS
from ops_checks.dbt_tests import failure_message

# Dagster's own console log only for what laiou does not say itself: a failed step's traceback is in the
# run's log in the UI, and `laiou run` prints the one-line reason (audit.load_log, the check) instead.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
MODELS_JOB, TAX_JOB = build_marts_job.name, refresh_tax_facts_job.name
# Models in one tick, the tax months in the next, then nothing: a tick more would mean conditions that
# keep asking, which must stop rather than build for ever.
MAX_TICKS = 6


@dataclass
class BuildOutcome:
    runs: int = 0
    failures: list[str] = field(default_factory=list)  # one line per failed run or failed ERROR check


def cursor_path():
    return settings.dagster_home() / "laiou_run.automation_cursor"


def _read_cursor():
    path = cursor_path()
    if not path.exists():
        return None
    try:
        return dg.deserialize_value(path.read_text(encoding="utf-8"))
    except Exception:  # a cursor of another Dagster version: start afresh (the marts_current check covers it)
        return None


def _write_cursor(cursor) -> None:
    path = cursor_path()
    scratch = path.with_suffix(".tmp")
    scratch.write_text(dg.serialize_value(cursor), encoding="utf-8")
    os.replace(scratch, path)  # a killed process leaves the old cursor or the new one, never half of one


def _not_the_partition_timestamp_fallback(record: logging.LogRecord) -> bool:
    # Dagster says so whenever more than 100 partitions were updated (every tax month after a build); it
    # then times them by the tick, which is all the conditions need. Not news for the operator.
    return "updated partitions, exceeding the maximum" not in str(record.msg)


def evaluate(definitions: dg.Definitions, instance: dg.DagsterInstance, cursor):
    dagster_log = logging.getLogger("dagster")
    dagster_log.addFilter(_not_the_partition_timestamp_fallback)
    try:
        with warnings.catch_warnings():  # Dagster's evaluation passes a beta parameter of its own
            warnings.simplefilter("ignore", dg.BetaWarning)
            return dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=cursor)
    finally:
        dagster_log.removeFilter(_not_the_partition_timestamp_fallback)


def runs_for(result, definitions: dg.Definitions) -> list[tuple[str, dict]]:
    """The runs that carry out one tick's model requests, as the sensor would launch them: the requested
    models in one run of build_marts; the requested tax months in one run of refresh_tax_facts over their
    range (the sensor's single-run backfill; a month in between that was not requested is rebuilt to the
    same rows). `laiou run` narrows the months when the run starts (`narrowed_to_held`)."""
    graph = definitions.resolve_asset_graph()
    selection = build_marts_job.selection.resolve(graph)
    requested = [key for key in graph.get_all_asset_keys() if result.get_num_requested(key)]
    models = [key for key in requested if key in selection]
    months = sorted(p for p in result.get_requested_partitions(TAX_FACTS) if p)
    # What else the conditions request (the latest month's district packages) is the daemon's to make;
    # `laiou run` writes the packages of the month it loaded after the build.
    runs = []
    if models:
        runs.append((MODELS_JOB, {"asset_selection": models}))
    if months:
        runs.append((TAX_JOB, {"tags": {RANGE_START: months[0], RANGE_END: months[-1]}}))
    return runs


def build_requested(
    definitions: dg.Definitions, instance: dg.DagsterInstance, tags: dict[str, str], say: Callable[[str], None]
) -> BuildOutcome:
    """Evaluate the automation conditions and run what they request until they request nothing."""
    outcome = BuildOutcome()
    cursor = _read_cursor()
    for _ in range(MAX_TICKS):
        result = evaluate(definitions, instance, cursor)
        cursor = result.cursor
        _write_cursor(cursor)  # as the sensor does: what was requested is not requested again
        runs = runs_for(result, definitions)
        if not runs:
            return outcome
        _carry_out(runs, definitions, instance, tags, say, outcome)
        if outcome.failures:  # what a failed run would have fed stays as it was
            return outcome
    raise RuntimeError(f"the automation conditions still request runs after {MAX_TICKS} ticks")


def _carry_out(runs, definitions, instance, tags: dict[str, str], say, outcome: BuildOutcome) -> None:
    """Each run in turn, with the caller's tags beside its own; none after one that failed (it would read
    what that one did not build). The tax months are narrowed to those that can hold tax when their run
    starts, after the models it reads were built."""
    for job, kwargs in runs:
        if job == TAX_JOB:
            kwargs = {**kwargs, "tags": {**kwargs["tags"], **narrowed_to_held(kwargs["tags"])}}
        outcome.runs += 1
        if not execute(definitions, instance, job, {**kwargs, "tags": {**tags, **kwargs.get("tags", {})}}, say):
            outcome.failures.append(f"{job}: see the run in the UI")
            return


def tax_months_held() -> tuple[str | None, str | None]:
    """The first and last months (YYYY-MM-01) whose tax facts a build can change, None where nothing says.
    First: the earliest tax month of any voucher or any fact (a month that held facts and holds no voucher
    now is emptied). Last: the last tax delivery loaded, as a voucher's tax_period never follows its
    delivery (feeds.md). Index lookups, whatever the warehouse's size (int_tax_vouchers indexes tax_month)."""
    with warehouse.connect() as conn:
        last = first = None
        if health.table_exists(conn, "audit.load_log"):
            last = conn.execute(
                "select max(period) from audit.load_log where feed = 'tax_payment' and outcome = 'loaded'"
            ).fetchone()[0]
        held = [t for t in ("intermediate.int_tax_vouchers", "marts.fct_tax_monthly") if health.table_exists(conn, t)]
        if held:
            first = conn.execute(
                "select least(" + ", ".join(f"(select min(tax_month) from {t})" for t in held) + ")"
            ).fetchone()[0]
    return (f"{first:%Y-%m-%d}" if first else None, f"{last:%Y-%m-%d}" if last else None)


def narrowed_to_held(span: dict[str, str]) -> dict[str, str]:
    """A range of tax months without the months before the first or after the last that can hold tax; as it
    was when nothing is held yet (the first build makes the facts table, empty)."""
    first, last = tax_months_held()
    start, end = max(span[RANGE_START], first or ""), min(span[RANGE_END], last or "9999")
    return {RANGE_START: start, RANGE_END: end} if start <= end else span


def build_all(definitions: dg.Definitions, instance: dg.DagsterInstance, tags, say) -> BuildOutcome:
    """Every model, then every delivered tax month: when the marts are older than the last good load and the
    conditions have no record of why (the cursor is new, or an earlier build failed after its request)."""
    outcome = BuildOutcome()
    _carry_out(
        [(MODELS_JOB, {}), (TAX_JOB, {"tags": tax_range(definitions)})], definitions, instance, tags, say, outcome
    )
    # The conditions must not ask for all of it again: evaluate once more to move the cursor past it.
    _write_cursor(evaluate(definitions, instance, _read_cursor()).cursor)
    return outcome


def tax_range(definitions: dg.Definitions) -> dict[str, str]:
    """Every tax month (each run narrows it to the months that can hold tax)."""
    partitions = definitions.resolve_assets_def(TAX_FACTS).partitions_def
    return {RANGE_START: partitions.get_first_partition_key(), RANGE_END: partitions.get_last_partition_key()}


def execute(definitions: dg.Definitions, instance: dg.DagsterInstance, job: str, kwargs: dict, say) -> bool:
    """One run in this process, summed up in a line, each check that did not pass named with what failed;
    dbt's own log goes to the run log. Whether it succeeded with no ERROR check failed."""
    t0 = time.perf_counter()
    log = run_log()
    with log.open("a", encoding="utf-8") as out, contextlib.redirect_stdout(out):  # dagster-dbt echoes dbt's log
        print(f"=== {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC {job} {kwargs.get('tags', {})}", flush=True)
        extra = {k: v for k, v in kwargs.items() if k not in ("tags", "run_config")}
        result = definitions.resolve_job_def(job).execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={**QUIET, **kwargs.get("run_config", {})},
            tags={KIND_TAG: "build", **kwargs.get("tags", {})},
            **extra,
        )
    built = len(result.get_asset_materialization_events())
    checks = result.get_asset_check_evaluations()
    failed = [e for e in checks if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    tests = f", {sum(e.passed for e in checks)} of {len(checks)} checks passed" if checks else ""
    months = kwargs.get("tags", {})
    span = f" ({months[RANGE_START][:7]} … {months[RANGE_END][:7]})" if RANGE_START in months else ""
    span = f" {kwargs['partition_key'][:7]}" if kwargs.get("partition_key") else span
    say(f"{job}{span}: {built} materializations{tests} in {time.perf_counter() - t0:.1f}s")
    for e in checks:
        if not e.passed:
            level = "ERROR" if e.severity == dg.AssetCheckSeverity.ERROR else "warning"
            message = failure_message(e.asset_check_key.name, e.metadata) or "see the check in the UI"
            say(f"  {level} {e.asset_check_key.name}: {message}")
    if not result.success and not failed:
        say(f"  the run failed: see {log} and the run {result.run_id[:8]} in the UI")
    return result.success and not failed


def run_log() -> Path:
    """Where the runs of this process write dbt's log: $LAIOU_HOME/logs/laiou-run.log."""
    folder = settings.laiou_home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "laiou-run.log"


def marts_current(instance: dg.DagsterInstance) -> tuple[bool, datetime | None, datetime | None]:
    """Whether the marts were built (the summary mart and the tax facts materialized) after the last good
    load; when the older of the two was built; when that load was."""
    with warehouse.connect() as conn:
        loaded_at = health.last_good_load_at(conn)
    events = [instance.get_latest_materialization_event(key) for key in (SUMMARY_MART, TAX_FACTS)]
    if loaded_at is None or not all(events):
        return False, None, loaded_at
    built_at = datetime.fromtimestamp(min(e.timestamp for e in events), UTC)
    return built_at > loaded_at, built_at, loaded_at
