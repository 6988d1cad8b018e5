"""Soak (issue #14): `laiou serve` running for real, deliveries landing over time, one of them broken and later
corrected, the first automation run's process killed mid-run, the daemon SIGKILLed once. At the end every
delivery is loaded exactly once, the summary mart equals the independent recount, the killed run was run
again by itself, the fault's incident was opened and resolved, and no run is left over."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from laiou_assets import warehouse
from laiou_assets.contract import FEEDS
from laiou_assets.generate.faults import FaultPlan
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.keys import DISTRICT_PACKAGES, TAX_FACTS
from tests.recount import summary_by_year

LAIOU = str(Path(sys.executable).parent / "laiou")
MONTHS = ["201701", "201702", "201703", "201704", "201705", "201706"]  # 6 months × 4 feeds: 24 deliveries
BROKEN = "201704"
CONFIG = GeneratorConfig("2017-01", "2017-06", 300, seed=24)


@pytest.fixture(scope="module")
def zones(tmp_path_factory):
    root = tmp_path_factory.mktemp("soak_zones")
    quiet = {"progress": lambda _: None}
    generate(root / "clean", CONFIG, **quiet)
    generate(
        root / "broken",
        CONFIG,
        faults=FaultPlan.parse([], [f"sha256_mismatch=tax_payment/{BROKEN[:4]}-{BROKEN[4:]}"]),
        **quiet,
    )
    return root


def deliver(zone: Path, landing: Path, month: str) -> None:
    """As a producer does: each feed's CSV first, its manifest last."""
    for feed in FEEDS:
        folder = landing / feed / month
        folder.mkdir(parents=True, exist_ok=True)
        for suffix in (".csv", ".manifest.json"):
            shutil.copyfile(zone / feed / month / f"{feed}_{month}{suffix}", folder / f"{feed}_{month}{suffix}")


def wait_for(what: str, condition, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(2)
    raise AssertionError(f"not within {seconds:.0f}s: {what}")


def packages_follow_the_tax_facts(url: str) -> bool:
    """The automation's chain is done: the latest month's district packages were written after the last
    build of the tax facts (they are requested in the tick after it)."""
    warehouse.ensure_dagster_instance(url)
    with dg.DagsterInstance.get() as instance:
        tax = instance.get_latest_materialization_event(TAX_FACTS)
        packages = instance.get_latest_materialization_event(DISTRICT_PACKAGES)
    return bool(tax and packages and packages.timestamp > tax.timestamp)


def unfinished_runs(url: str) -> list:
    warehouse.ensure_dagster_instance(url)
    with dg.DagsterInstance.get() as instance:
        return instance.get_runs(
            filters=dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
            )
        )


def first_automation_run_at_work(url: str) -> dg.DagsterRun | None:
    """The first run the automation launched, once one of its steps has started."""
    warehouse.ensure_dagster_instance(url)
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/from_automation_condition": "true"}))
        first = min(runs, key=lambda run: instance.get_run_record_by_id(run.run_id).create_timestamp, default=None)
        if first and instance.all_logs(first.run_id, of_type=dg.DagsterEventType.STEP_START):
            return first
    return None


def kill_run_process(url: str, run_id: str) -> None:
    """SIGKILL the process executing a run and everything it started (its steps, dbt), as a crash would."""
    warehouse.ensure_dagster_instance(url)
    with dg.DagsterInstance.get() as instance:
        [started] = [
            event
            for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            if event.message.startswith("Started process for run (pid: ")
        ]
    pid = int(started.message.split("pid: ")[1].split(")")[0])
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process has gone
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, i = [pid], 0
    while i < len(tree):
        tree += children.get(tree[i], [])
        i += 1
    for member in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_laiou_serve_runs_itself_through_a_fault_and_a_killed_daemon(laiou_env, zones, tmp_path):
    url, landing = laiou_env["LAIOU_DATABASE_URL"], laiou_env["landing"]
    landing.mkdir(parents=True, exist_ok=True)

    def sql(query: str) -> list[tuple]:
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                return conn.execute(query).fetchall()
            except psycopg.errors.UndefinedTable:  # before the first load made the audit tables
                return []

    env = {
        **os.environ,
        "LAIOU_ARRIVAL_INTERVAL": "3",
        "LAIOU_AUTOMATION_INTERVAL": "3",
        "LAIOU_INCIDENT_INTERVAL": "3",
        "LAIOU_BI_SERVE": "off",  # Superset under `laiou serve` is tests/test_superset.py's
    }
    log = open(tmp_path / "serve.out", "w")  # noqa: SIM115
    code_port = str(free_port())
    serve = subprocess.Popen(
        [LAIOU, "serve", "--port", str(free_port()), "--code-port", code_port],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    supervisor_log = lambda: (tmp_path / "serve.out").read_text()  # noqa: E731
    try:
        wait_for("the three processes started", lambda: supervisor_log().count("started ") >= 3, 60)
        # Another installation on this machine must not reach this one's code server (it would run its work here).
        wait_for("the code server listening", lambda: listening(int(code_port)), 120)
        other = {**env, "LAIOU_HOME": str(tmp_path / "other_home"), "DAGSTER_HOME": str(tmp_path / "other_dagster")}
        second = subprocess.run(
            [LAIOU, "serve", "--port", str(free_port()), "--code-port", code_port],
            env=other,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2 and f"port {code_port}" in second.stderr, second.stderr
        for month in MONTHS[:3]:
            deliver(zones / "clean", landing, month)
            time.sleep(2)
        # The first automation run builds the seeds and every model; it is never requested again, so when its
        # process dies Dagster's run retries (laiou's dagster.yaml) must run it once more.
        killed = wait_for("the first automation run at work", lambda: first_automation_run_at_work(url), 240)
        kill_run_process(url, killed.run_id)
        deliver(zones / "broken", landing, BROKEN)
        for month in MONTHS[4:]:
            deliver(zones / "clean", landing, month)
        wait_for(
            "the broken delivery attempted",
            lambda: sql(
                f"select 1 from audit.load_log where feed = 'tax_payment' and period = '{BROKEN[:4]}-{BROKEN[4:]}-01'"
            ),
            240,
        )
        daemon = int(supervisor_log().split("started daemon (pid ")[-1].split(")")[0])
        os.kill(daemon, signal.SIGKILL)  # the supervisor must bring it back
        wait_for("the daemon restarted", lambda: "daemon exited with code -9" in supervisor_log(), 30)

        status = subprocess.run([LAIOU, "status"], env=env, capture_output=True, text=True, timeout=120)
        assert status.returncode == 1 and f"tax_payment {BROKEN[:4]}-{BROKEN[4:]}" in status.stdout, status.stdout

        deliver(zones / "clean", landing, BROKEN)  # the bureau's correction

        def healthy():
            if unfinished_runs(url) or not packages_follow_the_tax_facts(url):
                return False
            done = subprocess.run([LAIOU, "status"], env=env, capture_output=True, text=True, timeout=120)
            # a stale mart within an hour of a load is no alarm for a probe, but here the build must be done
            return done.returncode == 0 and "marts: current" in done.stdout and done.stdout

        wait_for("laiou status healthy after the correction", healthy, 420)
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
        log.close()
    said = supervisor_log()
    assert "restart 1 in 1s" in said and said.rstrip().endswith("stopped")

    loaded = sql(
        "select feed, to_char(period, 'YYYYMM'), count(*) filter (where outcome = 'loaded'), "
        "count(*) filter (where outcome = 'failed') from audit.load_log group by 1, 2 order by 2, 1"
    )
    assert {(feed, month) for feed, month, _, _ in loaded} == {(f, m) for f in FEEDS for m in MONTHS}
    assert all(n == 1 for _, _, n, _ in loaded), loaded  # every delivery loaded exactly once
    assert [(f, m) for f, m, _, failed in loaded if failed] == [("tax_payment", BROKEN)]

    expected = summary_by_year(zones / "clean")
    [(tax, cumulative, new)] = sql("select tax_wan, cumulative, new from marts.mart_laiou_summary_year")
    assert Decimal(tax) == expected.tax_wan.iloc[0] > 0
    assert (cumulative, new) == (expected.cumulative.iloc[0], expected.new.iloc[0])

    incident = sql(
        "select severity, resolved_at is not null from audit.incident "
        f"where kind = 'run' and subject = 'ingest_feeds' and partition_key = '{BROKEN[:4]}-{BROKEN[4:]}-01'"
    )
    assert incident == [("ERROR", True)]

    warehouse.ensure_dagster_instance(url)
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        retries = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": killed.run_id}))
    assert [(run.tags.get("dagster/retry_number"), run.status) for run in retries] == [
        ("1", dg.DagsterRunStatus.SUCCESS)
    ]
    [(message, resolved_by)] = sql(
        f"select message, resolved_by_run from audit.incident where kind = 'run' and subject = '{killed.job_name}'"
    )
    assert "was terminated by signal 9 (SIGKILL)" in message and "runs it once more" in message, message
    assert resolved_by == retries[0].run_id  # opened by the killed run, resolved by its retry

    assert unfinished_runs(url) == []
