"""Fail closed when a load dies (#19): killed loads and lost connections are logged, scratch is cleaned,
runs of a gone process are failed, and a delivery is new by its content, not its time."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from laiou_assets.ingest import arrivals
from laiou_assets.ingest.landing import FileFault, manifest_identity
from laiou_assets.ingest.loader import ATTEMPT_LOCK, DIED, clean_stale_scratch, load_delivery, record_dead_attempts
from laiou_assets.keys import PROCESS_TAG
from laiou_assets.resources import WarehouseResource
from laiou_assets.running import fail_orphaned_runs, process_token
from tests.deliveries import write
from tests.hostile import (
    GOOD_LINES,
    PERIOD,
    TAX,
    TAX_HEADER,
    connect,
    evaluate_sensor,
    expected_manifest,
    fetch,
    last_log,
    load,
    tax_line,
)

# ------------------------------------------------------------------------------ 4. attempts that die

KILLED_LOAD = """
import os, signal, sys
from pathlib import Path
import psycopg
from laiou_assets.ingest.landing import Delivery
from laiou_assets.ingest.loader import load_delivery
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    # Killed as soon as the first rows are sent: mid-COPY, with the quarantine spool open.
    load_delivery(conn, Delivery("tax_payment", sys.argv[3]), Path(sys.argv[2]),
                  progress=lambda msg: os.kill(os.getpid(), signal.SIGKILL))
"""


def test_a_killed_load_is_logged_failed_at_the_next_start_leaves_no_scratch_and_is_retried_once(laiou_env, tmp_path):
    landing = laiou_env["landing"]
    first = [tax_line(i) for i in range(10)]
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(first) + "\n")
    load(landing)
    correction = [*first, "bad,row"]  # one row to quarantine: the spool is in use when the load dies
    folder = write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(correction) + "\n")
    identity = manifest_identity(TAX, landing)

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    script = tmp_path / "killed_load.py"
    script.write_text(KILLED_LOAD)
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, str(script), WarehouseResource().url(), str(landing), PERIOD], env=env)
    assert proc.returncode == -signal.SIGKILL
    assert list(scratch.iterdir()) == []  # nothing left in the temp dir: the spool had no name
    for _ in range(100):  # the server notices the dead client, rolls back and drops its locks
        if not fetch("select 1 from pg_locks where locktype = 'advisory' and classid = %s", ATTEMPT_LOCK):
            break
        time.sleep(0.05)
    assert fetch("select count(*) from audit.load_attempt") == [(1,)]
    assert fetch("select outcome from audit.load_log order by load_id") == [("loaded",)]

    requested = evaluate_sensor(landing)  # the next start: the sensor logs the attempt, and asks again
    log = last_log()
    assert (log["outcome"], log["failure"], log["message"], log["manifest_sha256"]) == (
        "failed",
        "died",
        DIED,
        identity,
    )
    assert fetch("select count(*) from audit.load_attempt") == [(0,)]
    assert [(p, feeds) for p, feeds, _ in requested] == [("2018-11-01", ["tax_payment"])]
    with connect() as conn:
        assert arrivals.find_pending(landing, conn).tries == {TAX: 1}

    # A second death of the same delivery (its attempt's row left, nobody holding its lock): no third try.
    with connect() as conn:
        conn.execute(
            "insert into audit.load_attempt (feed, period, file, manifest_sha256, started_at) "
            "values ('tax_payment', '2018-11-01', %s, %s, now())",
            [str(folder / f"tax_payment_{PERIOD}.csv"), identity],
        )
        assert record_dead_attempts(conn) == [f"tax_payment {PERIOD}: {folder}/tax_payment_{PERIOD}.csv: {DIED}"]
        assert arrivals.pending(landing, conn) == []
    assert fetch("select sum(amount)::text from raw.tax_payment") == [(expected_manifest(first)[1],)]
    assert load(landing).loaded == 10  # loaded by hand, it replaces the month
    assert fetch("select outcome, failure from audit.load_log order by load_id") == [
        ("loaded", None),
        ("failed", "died"),
        ("failed", "died"),
        ("loaded", None),
    ]


def test_a_load_whose_connection_is_lost_is_logged_failed_through_a_new_one(laiou_env):
    landing = laiou_env["landing"]
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n")
    load(landing)
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES[:3]) + "\n")

    with connect() as conn, connect() as admin:
        pid = conn.info.backend_pid

        def cut(_msg):
            admin.execute("select pg_terminate_backend(%s)", [pid])

        with pytest.raises(psycopg.OperationalError):
            load_delivery(conn, TAX, landing, progress=cut)
    log = last_log()
    assert (log["outcome"], log["failure"]) == ("failed", "error")
    assert log["message"].startswith("unexpected error: ") and "\n" not in log["message"]
    assert "terminat" in log["message"]
    assert fetch("select count(*) from raw.tax_payment") == [(5,)]
    assert fetch("select count(*) from audit.load_attempt") == [(0,)]


def test_stale_scratch_folders_are_removed_and_a_load_makes_none(laiou_env, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    stale = scratch / "laiou-load-k1ll3d"
    stale.mkdir()
    (stale / "quarantine.csv").write_text("2,x,field_count,\n")
    assert clean_stale_scratch() == [stale]
    assert list(scratch.iterdir()) == []

    landing = laiou_env["landing"]
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join([*GOOD_LINES, "bad,row"]) + "\n")
    during = []
    result = load(landing, progress=lambda _msg: during.append(sorted(p.name for p in scratch.iterdir())))
    assert (result.loaded, result.quarantined) == (5, 1)
    assert during == [[]] and list(scratch.iterdir()) == []


def test_runs_whose_process_is_gone_are_marked_failed_and_live_ones_kept():
    instance = dg.DagsterInstance.ephemeral()
    me = os.getpid()
    tokens = {
        "killed": process_token(me).rsplit(":", 1)[0] + ":1",  # this pid, started at another time: a reused pid
        "live": process_token(me),
        "elsewhere": f"another-host:{me}:1",
        "untagged": None,
    }
    for run_id, token in tokens.items():
        tags = {PROCESS_TAG: token} if token else {}
        instance.add_run(
            dg.DagsterRun(job_name="ingest_feeds", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags)
        )

    lines = fail_orphaned_runs(instance)
    assert len(lines) == 1 and lines[0].startswith("run killed (ingest_feeds) marked failed: the process")
    statuses = {run_id: instance.get_run_by_id(run_id).status for run_id in tokens}
    assert statuses == {
        "killed": dg.DagsterRunStatus.FAILURE,
        "live": dg.DagsterRunStatus.STARTED,
        "elsewhere": dg.DagsterRunStatus.STARTED,
        "untagged": dg.DagsterRunStatus.STARTED,
    }


# -------------------------------------------------------------------------------- 5. arrival by content


def test_a_delivery_is_new_when_its_manifest_bytes_change_whatever_its_mtime(laiou_env):
    landing = laiou_env["landing"]
    folder = write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n")
    files = list(folder.iterdir())
    first = evaluate_sensor(landing)
    load(landing)
    assert arrivals.pending(landing, connect()) == []

    later = time.time() + 60
    for f in files:  # touched, same bytes: nothing new
        os.utime(f, (later, later))
    assert arrivals.pending(landing, connect()) == []

    # A correction copied with `cp -p`: other bytes, with mtimes older than the load.
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES[:4]) + "\n")
    old = time.mktime((2019, 1, 5, 8, 0, 0, 0, 0, -1))
    for f in files:
        os.utime(f, (old, old))
    assert arrivals.pending(landing, connect()) == [TAX]
    again = evaluate_sensor(landing)
    assert [p for p, _, _ in again] == ["2018-11-01"] and again[0][2] != first[0][2]
    assert load(landing).loaded == 4
    assert last_log()["manifest_sha256"] == manifest_identity(TAX, landing)

    # A faulty redelivery fails once and is not tried again until redelivered.
    write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n", rows=6)
    assert arrivals.pending(landing, connect()) == [TAX]
    with pytest.raises(FileFault, match="5 data rows, the manifest says 6"):
        load(landing)
    assert arrivals.pending(landing, connect()) == []
    assert evaluate_sensor(landing) == []


def test_a_warehouse_of_an_earlier_laiou_keeps_the_time_rule_until_its_next_load(laiou_env):
    landing = laiou_env["landing"]
    folder = write(landing, "tax_payment", PERIOD, TAX_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n")
    load(landing)
    with connect() as conn:  # as an earlier laiou left it
        conn.execute("alter table audit.load_log drop column manifest_sha256, drop column failure")
        conn.execute("drop table audit.alembic_version")  # an earlier laiou had no migrations
        assert arrivals.pending(landing, conn) == []
        later = time.time() + 60
        os.utime(folder / f"tax_payment_{PERIOD}.manifest.json", (later, later))
        assert arrivals.pending(landing, conn) == [TAX]
    load(landing)  # migrates it: the columns come back
    assert last_log()["manifest_sha256"] == manifest_identity(TAX, landing)
    assert arrivals.pending(landing, connect()) == []
