"""Backups verified for real (issue #19): every kept backup's file against the sha256 taken with it, and the
latest restored with every table's rows and content equal to the dump's snapshot, against a real server."""

import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from laiou_assets import warehouse
from laiou_assets.ingest.landing import delivered
from laiou_assets.ingest.loader import load_delivery
from ops_checks import backups


def sql(query: str, params=None) -> list[tuple]:
    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def execute(statement: str, params=None) -> None:
    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        conn.execute(statement, params)


@pytest.fixture
def loaded(laiou_env, small_landing) -> tuple[str, Path]:
    """A warehouse holding the small landing zone's raw feeds, and the folder its backups go to."""
    url = warehouse.database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        for delivery in delivered(small_landing):
            load_delivery(conn, delivery, small_landing)
    return url, Path(laiou_env["LAIOU_HOME"]) / "backups"


def two_backups(url: str, folder: Path) -> tuple[dict, dict]:
    older = backups.take_backup(url, folder, keep=7)
    time.sleep(1.1)  # backup names carry the second
    return older, backups.take_backup(url, folder, keep=7)


def test_good_backups_pass_with_every_file_and_every_tables_content_verified(loaded):
    url, folder = loaded
    older, latest = two_backups(url, folder)
    finding = backups.restore_check(url)
    assert finding.passed, finding.facts
    facts = finding.facts
    assert facts["backup"] == latest["path"] and facts["backups_kept"] == 2 and facts["backups_with_bad_files"] == 0
    assert facts["content_compared"] and facts["tables_different"] == 0 and facts["problem"] is None
    recorded = sql("select path, sha256, table_rows, table_checksums, file_outcome from audit.backup order by 1")
    for path, sha256, rows, checksums, outcome in recorded:
        assert sha256 == backups.file_sha256(Path(path)) and outcome == "ok"
        assert checksums.keys() == rows.keys() and "raw.saic_enterprise_201812" in checksums
    assert sql("select restore_outcome from audit.backup where path = %s", [latest["path"]]) == [("equal",)]


def test_a_corrupted_older_backup_fails_the_check_naming_its_file(loaded):
    url, folder = loaded
    older, latest = two_backups(url, folder)
    damaged = bytearray(Path(older["path"]).read_bytes())
    for i in range(len(damaged) // 2, len(damaged) // 2 + 8):  # same size, a few bytes flipped
        damaged[i] ^= 0xFF
    Path(older["path"]).write_bytes(bytes(damaged))

    finding = backups.restore_check(url)
    assert not finding.passed
    assert f"{older['path']}: file changed" in finding.facts["problem"]
    assert latest["path"] not in finding.facts["problem"] and finding.facts["backups_with_bad_files"] == 1
    assert finding.facts["tables_different"] == 0  # the latest still restores equal; only the older is bad
    outcomes = dict(sql("select path, file_outcome from audit.backup"))
    assert outcomes == {older["path"]: "changed", latest["path"]: "ok"}

    Path(older["path"]).unlink()  # a kept backup that is gone fails too
    gone = backups.restore_check(url)
    assert not gone.passed and f"{older['path']}: file missing" in gone.facts["problem"]


def test_a_tampered_dump_with_equal_row_counts_fails_on_its_content(loaded, server_url):
    """The dump is replaced by one with one value changed and its recorded sha256 rewritten to match: the row
    counts and the file's checksum agree, only the tables' content checksums can tell."""
    url, folder = loaded
    taken = backups.take_backup(url, folder, keep=7)
    tamper_db = f"t_tamper_{uuid.uuid4().hex[:8]}"
    tamper_url = warehouse.with_dbname(server_url, tamper_db)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"create database {tamper_db}")
    try:
        restore = [backups.client("pg_restore"), "--no-owner", "--no-acl", "--exit-on-error", "--dbname", tamper_url]
        subprocess.run([*restore, taken["path"]], check=True, capture_output=True)
        with psycopg.connect(tamper_url, autocommit=True) as conn:
            changed = conn.execute(
                "update raw.saic_enterprise_201812 set name = name || '（改）' "
                "where _line = (select min(_line) from raw.saic_enterprise_201812)"
            ).rowcount
        assert changed == 1
        dump = [backups.client("pg_dump"), "--format=custom", "--file", taken["path"], tamper_url]
        subprocess.run(dump, check=True, capture_output=True)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"drop database if exists {tamper_db} with (force)")
    execute(
        "update audit.backup set sha256 = %s where path = %s", [backups.file_sha256(Path(taken["path"])), taken["path"]]
    )

    finding = backups.restore_check(url)
    assert not finding.passed and finding.facts["backups_with_bad_files"] == 0  # the file matches its sha256
    assert finding.facts["tables_different"] == 1 and "other rows or content" in finding.facts["problem"]
    [table] = finding.sample
    assert table == {
        "table": "raw.saic_enterprise_201812",
        "in_backup": table["restored"],  # equal counts: counting alone would have passed
        "restored": table["restored"],
        "content": "different",
    }
    assert sql("select restore_outcome from audit.backup") == [("different",)]


def test_a_warehouse_from_before_checksums_keeps_working_and_names_its_unverifiable_backup(loaded):
    url, folder = loaded
    legacy = backups.take_backup(url, folder, keep=7)
    # audit.backup as an older laiou left it: no checksum columns, a backup without them
    execute(
        "alter table audit.backup drop column sha256, drop column table_checksums, drop column file_checked_at, "
        "drop column file_outcome"
    )
    execute("drop table audit.alembic_version")  # an earlier laiou had no migrations
    time.sleep(1.1)
    latest = backups.take_backup(url, folder, keep=7)
    finding = backups.restore_check(url)
    assert finding.passed and finding.facts["unverifiable_backups"] == 1 and finding.facts["content_compared"]
    outcomes = dict(sql("select path, file_outcome from audit.backup"))
    assert outcomes == {legacy["path"]: "unverifiable", latest["path"]: "ok"}
