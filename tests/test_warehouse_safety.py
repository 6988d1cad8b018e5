"""The warehouse fails closed (issue #19): the embedded server asks every role for its password, and two
`laiou run`s wait for each other instead of deadlocking."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from laiou_assets import warehouse
from laiou_assets.access import BI_ROLE, ensure_roles

LAIOU = str(Path(sys.executable).parent / "laiou")


def laiou(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([LAIOU, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def own_server(tmp_path):
    """An embedded server of its own, started by `laiou db start` as a user would."""
    env = {k: v for k, v in os.environ.items() if k != "LAIOU_DATABASE_URL"}
    env["LAIOU_HOME"] = str(tmp_path / "home")
    started = laiou("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    yield env, started.stdout.strip()
    laiou("db", "stop", env=env)


def test_the_embedded_server_asks_every_role_for_its_password(own_server, tmp_path):
    env, url = own_server
    params = conninfo_to_dict(url)
    passfile = Path(params["passfile"])
    assert passfile == tmp_path / "home" / "pgpass"
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
    assert "password" not in params  # the URL names the credentials, it does not carry them

    without = {k: v for k, v in params.items() if k != "passfile"}
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(**without)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**without, password="postgres")
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_roles(conn)
        methods = {r[0] for r in conn.execute("select auth_method from pg_hba_file_rules where error is null")}
        assert methods == {"scram-sha-256"}
        assert conn.execute(
            "select rolpassword like 'SCRAM-SHA-256$%%' from pg_authid where rolname = %s", [BI_ROLE]
        ).fetchone() == (True,)

    # `laiou db url --role` gives a URL that works, in the same format as `laiou db url`.
    printed = laiou("db", "url", "--role", BI_ROLE, env=env)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("postgresql://") and laiou("db", "url", env=env).stdout.strip() == url
    with psycopg.connect(printed.stdout.strip()) as conn:
        assert conn.execute("select current_user").fetchone() == (BI_ROLE,)
    nobody = laiou("db", "url", "--role", "nobody", env=env)
    assert nobody.returncode == 2 and nobody.stdout == ""
    assert "no login role 'nobody'" in nobody.stderr and BI_ROLE in nobody.stderr
    assert "Traceback" not in nobody.stderr

    # A restart keeps the same credentials and the same address.
    assert laiou("db", "stop", env=env).returncode == 0
    assert laiou("db", "start", env=env).stdout.strip() == url


def test_a_second_laiou_run_waits_for_the_first_and_says_who_runs(laiou_env):
    url = laiou_env["LAIOU_DATABASE_URL"]
    lines: list[str] = []
    with warehouse.advisory_lock(url, warehouse.RUN_LOCK, "laiou run (pid 4242)"):
        second = subprocess.Popen([LAIOU, "run"], env=dict(os.environ), stderr=subprocess.PIPE, text=True)
        reader = threading.Thread(target=lambda: lines.extend(second.stderr), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not any("waiting for laiou run (pid 4242)" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        assert second.poll() is None, "the second run did not wait"
        assert any("waiting for laiou run (pid 4242) since" in line for line in lines), lines
    assert second.wait(timeout=60) == 1  # then it runs: nothing delivered in this landing zone
    reader.join(timeout=10)
    assert any("no complete delivery" in line for line in lines), lines


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "LAIOU_DATABASE_URL is not a PostgreSQL URL"),
        ("postgresql://u:secret@127.0.0.1:1/laiou", "cannot reach the warehouse postgresql://u@127.0.0.1:1/laiou"),
    ],
)
def test_a_wrong_warehouse_url_is_one_line_without_a_traceback_or_its_password(tmp_path, url, says):
    env = {**os.environ, "LAIOU_DATABASE_URL": url, "LAIOU_HOME": str(tmp_path)}
    for command in (["summary"], ["run"]):
        done = laiou(*command, env=env)
        assert done.returncode == 2
        assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr and "secret" not in done.stderr


def test_a_reversed_month_range_is_refused(tmp_path):
    done = laiou("run", "--from", "2018-12", "--to", "2018-01", env={**os.environ, "LAIOU_HOME": str(tmp_path)})
    assert done.returncode == 2 and "--from 2018-12 is after --to 2018-01" in done.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@[::1]:5433/laiou",
        "postgresql://u@h1:5432,h2:5433/laiou?target_session_attrs=read-write",
        "postgresql://u:p%40ss@db.office:5432/laiou?sslmode=require",
        "postgresql://postgres@/laiou?host=/var/lib/laiou/pg&passfile=/var/lib/laiou/pgpass",
    ],
)
def test_urls_keep_their_meaning_through_laious_one_format(url):
    assert conninfo_to_dict(warehouse.as_url(conninfo_to_dict(url))) == conninfo_to_dict(url)
    assert conninfo_to_dict(warehouse.with_user(url, "laiou_bi"))["user"] == "laiou_bi"


def test_an_operators_own_passfile_is_never_written_to(server_url, tmp_path):
    """Only laiou's passfile of an embedded server gets role passwords; a URL naming another file is the
    operator's: laiou neither writes to it nor changes a role's password."""
    own = warehouse.passfile_of(server_url)
    if own is None:
        pytest.skip("an external server without a passfile")
    operators = tmp_path / "operators.pgpass"
    only_postgres = [line for line in own.read_text(encoding="utf-8").splitlines() if ":postgres:" in line]
    operators.write_text("\n".join(only_postgres) + "\n", encoding="utf-8")  # no line for laiou_bi & co
    operators.chmod(0o600)
    before = operators.read_text(encoding="utf-8")
    with psycopg.connect(server_url, autocommit=True, passfile=str(operators)) as conn:
        assert warehouse.passfile_of(conn.info.dsn) == operators
        ensure_roles(conn)
    assert operators.read_text(encoding="utf-8") == before
