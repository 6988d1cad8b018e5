"""备份 / backups of the warehouse with pg_dump, their retention, and a restore that proves each one.

A backup counts the rows of every table and dumps the database in the same snapshot (pg_export_snapshot),
so the restore check can compare exactly: it restores the latest backup into a scratch database on the same
server and counts every table again. Backups live in $LAIOU_HOME/backups (LAIOU_BACKUP_DIR); the newest
LAIOU_BACKUP_KEEP (default 7) are kept.
"""

import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from laiou_assets import settings, warehouse
from ops_checks.runbook import Finding
from ops_checks.store import ensure_ops_tables

RESTORE_DB = "laiou_restore_check"

TABLES_SQL = r"""
select format('%I.%I', n.nspname, c.relname)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
order by 1
"""


def backup_dir() -> Path:
    return Path(os.environ.get("LAIOU_BACKUP_DIR") or settings.laiou_home() / "backups")


def keep_count() -> int:
    return int(os.environ.get("LAIOU_BACKUP_KEEP") or 7)


def client(program: str) -> str:
    """pg_dump / pg_restore: the embedded server's (PostgreSQL 18, which dumps older servers too), else PATH."""
    bundled = warehouse.embedded_server().bin_dir / program
    found = str(bundled) if bundled.exists() else shutil.which(program)
    if not found:
        raise RuntimeError(f"{program} not found: install the PostgreSQL client tools")
    return found


def count_rows(conn) -> dict[str, int]:
    return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in conn.execute(TABLES_SQL)}


def take_backup(url: str, directory: Path, keep: int) -> dict:
    """Dump the warehouse; record it in audit.backup; delete backups beyond the newest `keep`."""
    directory.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops_tables(conn)
    started = datetime.now(UTC)
    final = directory / f"laiou_{started:%Y%m%dT%H%M%SZ}.dump"
    partial = final.with_suffix(".partial")
    t0 = time.perf_counter()
    try:
        with psycopg.connect(url) as snap:
            snap.execute("set transaction isolation level repeatable read, read only")
            snapshot = snap.execute("select pg_export_snapshot()").fetchone()[0]
            rows = count_rows(snap)
            done = subprocess.run(
                [client("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--file", str(partial), url],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise RuntimeError(f"pg_dump exited {done.returncode}: {done.stderr.strip()[-500:]}")
        partial.rename(final)  # a backup under its final name is always complete
    except Exception as exc:
        partial.unlink(missing_ok=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "insert into audit.backup (started_at, finished_at, path, outcome, message) "
                "values (%s, now(), %s, 'failed', %s)",
                [started, str(final), str(exc)[:1000]],
            )
        raise
    with psycopg.connect(url, autocommit=True) as conn:
        backup_id = conn.execute(
            "insert into audit.backup (started_at, finished_at, path, bytes, table_rows, outcome) "
            "values (%s, now(), %s, %s, %s, 'ok') returning backup_id",
            [started, str(final), final.stat().st_size, json.dumps(rows)],
        ).fetchone()[0]
        removed = _apply_retention(conn, keep)
    return {
        "backup_id": backup_id,
        "path": str(final),
        "bytes": final.stat().st_size,
        "tables": len(rows),
        "rows": sum(rows.values()),
        "seconds": round(time.perf_counter() - t0, 1),
        "removed": removed,
    }


def _apply_retention(conn, keep: int) -> list[str]:
    old = conn.execute(
        "select backup_id, path from audit.backup where outcome = 'ok' and removed_at is null "
        "order by started_at desc offset %s",
        [keep],
    ).fetchall()
    for backup_id, path in old:
        Path(path).unlink(missing_ok=True)
        conn.execute("update audit.backup set removed_at = now() where backup_id = %s", [backup_id])
    return [path for _, path in old]


def restore_check(url: str) -> Finding:
    """Restore the latest backup into a scratch database and compare every table's rows with the dump's."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops_tables(conn)
        latest = conn.execute(
            "select backup_id, path, table_rows, started_at from audit.backup "
            "where outcome = 'ok' and removed_at is null order by started_at desc limit 1"
        ).fetchone()
    if latest is None:
        return Finding(False, {"problem": "no backup to restore: run the backup_warehouse job"})
    backup_id, path, expected, started = latest
    facts = {"backup": path, "taken_at": started.isoformat(), "tables": len(expected)}
    scratch = warehouse.with_dbname(url, RESTORE_DB)
    t0 = time.perf_counter()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop database if exists {RESTORE_DB} with (force)")
            conn.execute(f"create database {RESTORE_DB}")
        done = subprocess.run(
            [client("pg_restore"), "--no-owner", "--no-acl", "--exit-on-error", "--dbname", scratch, path],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"pg_restore exited {done.returncode}: {done.stderr.strip()[-500:]}")
        with psycopg.connect(scratch, autocommit=True) as conn:
            restored = count_rows(conn)
    except Exception as exc:
        _record_restore(url, backup_id, "failed", str(exc))
        return Finding(False, {**facts, "problem": f"restore failed: {exc}"})
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop database if exists {RESTORE_DB} with (force)")
    different = [
        {"table": t, "in_backup": expected.get(t), "restored": restored.get(t)}
        for t in sorted(expected.keys() | restored.keys())
        if expected.get(t) != restored.get(t)
    ]
    outcome = "different" if different else "equal"
    _record_restore(url, backup_id, outcome, None if not different else json.dumps(different[:20]))
    facts.update(
        {
            "rows": sum(restored.values()),
            "tables_different": len(different),
            "restore_seconds": round(time.perf_counter() - t0, 1),
            "problem": f"{len(different)} table(s) restored with other row counts" if different else None,
        }
    )
    return Finding(not different, facts, different[:10])


def _record_restore(url: str, backup_id: int, outcome: str, message: str | None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update audit.backup set restore_checked_at = now(), restore_outcome = %s, restore_message = %s "
            "where backup_id = %s",
            [outcome, message, backup_id],
        )
