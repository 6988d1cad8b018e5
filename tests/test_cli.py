"""The `laiou` command as a user runs it, in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from laiou_assets.cli import main
from tests.recorder import Recorder

LAIOU = str(Path(sys.executable).parent / "laiou")


def laiou(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([LAIOU, *args], env=env, capture_output=True, text=True, timeout=120)


def test_embedded_server_outlives_the_process_that_started_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LAIOU_DATABASE_URL"}
    env["LAIOU_HOME"] = str(tmp_path / "home")
    started = laiou("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    try:
        url = laiou("db", "url", env=env).stdout.strip()
        assert url == started.stdout.strip()
        # The starting process has exited; the server still answers.
        with psycopg.connect(url) as conn:
            assert conn.execute("select current_database()").fetchone()[0] == "laiou"
        assert laiou("db", "status", env=env).returncode == 0
    finally:
        assert laiou("db", "stop", env=env).stdout.strip() == "stopped"
    status = laiou("db", "status", env=env)
    assert status.returncode == 3 and "stopped" in status.stdout


def test_generate_is_deterministic_for_a_seed(tmp_path):
    args = ["generate", "--from", "2018-01", "--to", "2018-02", "--enterprises", "300", "--seed", "5"]
    for out in ("a", "b"):
        assert laiou(*args, "--out", str(tmp_path / out), env=dict(os.environ)).returncode == 0
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files_a) == 16  # 4 feeds × 2 months × (CSV + manifest)
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_bad_month_argument_is_explained():
    result = laiou("generate", "--from", "2018-13", "--to", "2018-12", env=dict(os.environ))
    assert result.returncode == 2 and "is not a month YYYY-MM" in result.stderr


def test_bad_fault_arguments_are_explained():
    base = ["generate", "--from", "2018-01", "--to", "2018-01", "--out", "/nonexistent/never-written"]
    result = laiou(*base, "--row-fault", "typo=0.01", env=dict(os.environ))
    assert result.returncode == 2 and "the reasons are field_count" in result.stderr
    result = laiou(*base, "--file-fault", "row_count=tax_payment/201801", env=dict(os.environ))
    assert result.returncode == 2 and "give FAULT=FEED/YYYY-MM" in result.stderr
    result = laiou(*base, "--file-fault", "row_count=taxes/2018-01", env=dict(os.environ))
    assert result.returncode == 2 and "FEED one of saic_enterprise, saic_shareholder, tax_payment" in result.stderr
    # A fault in a month the zone does not hold would never be made: refused, naming it and the range.
    result = laiou(*base, "--file-fault", "row_count=tax_payment/2019-05", env=dict(os.environ))
    assert result.returncode == 2
    assert "row_count=tax_payment/2019-05: outside the months generated (2018-01 … 2018-01)" in result.stderr
    assert not Path("/nonexistent/never-written").exists()


def test_laiou_bi_metabase_registers_the_marts_as_laiou_bi(monkeypatch, capsys):
    metabase = Recorder({"/api/session": {"id": "session-1"}, "/api/database": {"id": 7}})
    monkeypatch.setenv("LAIOU_DATABASE_URL", "postgresql://laiou@warehouse.internal:5433/laiou?sslmode=require")
    monkeypatch.setenv("LAIOU_BI_PASSWORD", "bi-secret")
    monkeypatch.setenv("METABASE_PASSWORD", "admin-secret")
    try:
        assert main(["bi", "metabase", "--url", metabase.url + "/", "--admin", "admin@office"]) == 0
    finally:
        metabase.close()
    (session_path, _, login), (database_path, headers, database) = metabase.received
    assert (session_path, login) == ("/api/session", {"username": "admin@office", "password": "admin-secret"})
    assert database_path == "/api/database" and headers["X-Metabase-Session"] == "session-1"
    assert database["engine"] == "postgres" and database["details"] == {
        "host": "warehouse.internal",
        "port": 5433,
        "dbname": "laiou",
        "user": "laiou_bi",
        "password": "bi-secret",
        "ssl": True,
        "schema-filters-type": "inclusion",
        "schema-filters-patterns": "marts",
    }
    assert "Metabase database 7" in capsys.readouterr().out


def test_laiou_bi_metabase_refuses_a_unix_socket_warehouse(monkeypatch, capsys):
    monkeypatch.setenv("LAIOU_DATABASE_URL", "user=postgres dbname=laiou host=/tmp/somewhere/pg")
    monkeypatch.setenv("LAIOU_BI_PASSWORD", "x")
    monkeypatch.setenv("METABASE_PASSWORD", "y")
    assert main(["bi", "metabase", "--url", "http://127.0.0.1:9", "--admin", "a"]) == 2
    assert "Metabase needs a TCP server" in capsys.readouterr().err


def test_every_command_and_option_says_what_it_does():
    import argparse

    from laiou_assets.cli import build_parser

    _, commands = build_parser()
    silent = [
        f"laiou {name} {action.option_strings or action.dest}"
        for name, command in commands.items()
        for action in command._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert all(command.description for command in commands.values())
    assert not silent, silent
