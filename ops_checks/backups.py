"""备份 / backups of the warehouse with pg_dump, their retention, and a restore that proves each one.

A backup counts the rows of every table and checksums their content in the same snapshot as the dump
(pg_export_snapshot), and records the sha256 of the dump file (audit.backup). The restore check proves what
counts alone cannot (issue #19): every kept backup's file still has its sha256, and the latest restores into
a scratch database on the same server with every table's rows and content checksum equal to the dump's.
Backups live in $LAIOU_HOME/backups (LAIOU_BACKUP_DIR); the newest LAIOU_BACKUP_KEEP (default 7) are kept.
"""

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from laiou_assets import migrations, settings, warehouse
from ops_checks.runbook import Finding

RESTORE_CHECK = (
    "恢复验证 / every kept backup's file is unchanged (sha256 recorded at dump time), and the latest restores "
    "into a scratch database (laiou_restore_check) with the same rows and content (a checksum per table) in "
    "every table as when it was taken. ERROR."
)

RESTORE_DB = "laiou_restore_check"

TABLES_SQL = r"""
select format('%I.%I', n.nspname, c.relname)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
order by 1
"""


def backup_dir() -> Path:
    return settings.current().backup_dir


def keep_count() -> int:
    return settings.current().backup_keep


def client(program: str) -> str:
    """pg_dump / pg_restore: the embedded server's (PostgreSQL 18, which dumps older servers too), else PATH."""
    bundled = warehouse.embedded_server().bin_dir / program
    found = str(bundled) if bundled.exists() else shutil.which(program)
    if not found:
        raise RuntimeError(f"{program} not found: install the PostgreSQL client tools")
    return found


# A table's content checksum without sorting it or building one string of it (ordered string_agg fails past
# 1 GB, far below the seed scale's 29 million vouchers): the exact sum of the first 64 bits of every row's md5,
# as signed integers. A sum ignores row order, which a restore does not keep, but not a changed, lost or
# doubled row. It guards against damage and edits, not against someone who can rewrite audit.backup too.
TABLE_SQL = """
select count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0)::text from {table} t
"""
# Rows become text the same way in the dump's snapshot and in the restored copy, whatever the session's defaults.
TEXT_SETTINGS = (
    "set timezone = 'UTC'; set datestyle = 'ISO, YMD'; set intervalstyle = 'postgres'; "
    "set extra_float_digits = 1; set bytea_output = 'hex'"
)


def table_contents(conn) -> dict[str, tuple[int, str]]:
    """Every table's rows and content checksum, as the connection's snapshot sees them."""
    conn.execute(TEXT_SETTINGS)
    tables = [t for (t,) in conn.execute(TABLES_SQL)]
    return {t: tuple(conn.execute(TABLE_SQL.format(table=t)).fetchone()) for t in tables}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def take_backup(url: str, directory: Path, keep: int) -> dict:
    """Dump the warehouse; record it in audit.backup with its sha256 and its tables' rows and content
    checksums; delete backups beyond the newest `keep`."""
    directory.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(url, autocommit=True) as conn:
        migrations.ensure_current(conn)
    started = datetime.now(UTC)
    final = directory / f"laiou_{started:%Y%m%dT%H%M%SZ}.dump"
    partial = final.with_suffix(".partial")
    t0 = time.perf_counter()
    try:
        with psycopg.connect(url) as snap:
            snap.execute("set transaction isolation level repeatable read, read only")
            snapshot = snap.execute("select pg_export_snapshot()").fetchone()[0]
            contents = _dump_while_checksumming(url, snapshot, partial, snap)
        sha256 = file_sha256(partial)
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
    rows = {t: n for t, (n, _) in contents.items()}
    with psycopg.connect(url, autocommit=True) as conn:
        backup_id = conn.execute(
            "insert into audit.backup (started_at, finished_at, path, bytes, table_rows, outcome, sha256, "
            "table_checksums) values (%s, now(), %s, %s, %s, 'ok', %s, %s) returning backup_id",
            [
                started,
                str(final),
                final.stat().st_size,
                json.dumps(rows),
                sha256,
                json.dumps({t: c for t, (_, c) in contents.items()}),
            ],
        ).fetchone()[0]
        removed = _apply_retention(conn, keep)
    return {
        "backup_id": backup_id,
        "path": str(final),
        "bytes": final.stat().st_size,
        "sha256": sha256,
        "tables": len(rows),
        "rows": sum(rows.values()),
        "seconds": round(time.perf_counter() - t0, 1),
        "removed": removed,
    }


def _dump_while_checksumming(url: str, snapshot: str, out: Path, snap) -> dict[str, tuple[int, str]]:
    """pg_dump the exported snapshot while `snap`, the transaction that exported it, checksums the same
    snapshot: the checksums cost no more than the dump on a server with a spare core."""
    with tempfile.TemporaryFile() as errors:
        dump = subprocess.Popen(
            [client("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--file", str(out), url],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            contents = table_contents(snap)
        except BaseException:
            dump.kill()
            raise
        finally:
            dump.wait()
        if dump.returncode:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()[-500:]
            raise RuntimeError(f"pg_dump exited {dump.returncode}: {message}")
    return contents


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


def verify_files(url: str) -> list[dict]:
    """Check every kept backup's file against the sha256 recorded when it was taken; record the outcome.
    Returns the backups that fail: changed or missing. Backups taken before sha256 was recorded cannot
    be verified: they are listed as unverifiable, and retention removes them after LAIOU_BACKUP_KEEP more."""
    with psycopg.connect(url, autocommit=True) as conn:
        kept = conn.execute(
            "select backup_id, path, sha256 from audit.backup where outcome = 'ok' and removed_at is null "
            "order by started_at desc"
        ).fetchall()
        results = []
        for backup_id, path, recorded in kept:
            if not Path(path).is_file():
                outcome = "missing"
            elif recorded is None:
                outcome = "unverifiable"
            else:
                outcome = "ok" if file_sha256(Path(path)) == recorded else "changed"
            conn.execute(
                "update audit.backup set file_checked_at = now(), file_outcome = %s where backup_id = %s",
                [outcome, backup_id],
            )
            results.append({"backup": path, "file": outcome})
    return results


def restore_check(url: str) -> Finding:
    """Verify every kept backup's sha256, then restore the latest into a scratch database and compare every
    table's rows and content checksum with the dump's."""
    with psycopg.connect(url, autocommit=True) as conn:
        migrations.ensure_current(conn)
        latest = conn.execute(
            "select backup_id, path, table_rows, table_checksums, started_at from audit.backup "
            "where outcome = 'ok' and removed_at is null order by started_at desc limit 1"
        ).fetchone()
    if latest is None:
        return Finding(False, {"problem": "no backup to restore: run the backup_warehouse job"})
    t0 = time.perf_counter()
    files = verify_files(url)
    bad_files = [f for f in files if f["file"] in ("changed", "missing")]
    backup_id, path, expected_rows, expected_sums, started = latest
    facts = {
        "backup": path,
        "taken_at": started.isoformat(),
        "tables": len(expected_rows),
        "backups_kept": len(files),
        "backups_with_bad_files": len(bad_files),
        "unverifiable_backups": sum(f["file"] == "unverifiable" for f in files) or None,
        "files_seconds": round(time.perf_counter() - t0, 1),
    }
    problems = [f"{f['backup']}: file {f['file']} since it was taken" for f in bad_files]
    t0 = time.perf_counter()
    try:
        restored = _restore_and_read(url, path)
    except Exception as exc:
        _record_restore(url, backup_id, "failed", str(exc))
        problems.insert(0, f"restore failed: {exc}")
        return Finding(False, {**facts, "problem": "; ".join(problems)}, bad_files[:10])
    expected = {t: (n, (expected_sums or {}).get(t)) for t, n in expected_rows.items()}
    different = _differences(expected, restored, compare_content=expected_sums is not None)
    outcome, message = ("different", json.dumps(different[:20])) if different else ("equal", None)
    _record_restore(url, backup_id, outcome, message)
    if different:
        problems.insert(0, f"{len(different)} table(s) restored with other rows or content")
    facts.update(
        {
            "rows": sum(n for n, _ in restored.values()),
            "tables_different": len(different),
            "content_compared": expected_sums is not None,
            "restore_seconds": round(time.perf_counter() - t0, 1),
            "problem": "; ".join(problems) or None,
        }
    )
    return Finding(not problems, facts, (different + bad_files)[:10])


def _restore_and_read(url: str, path: str) -> dict[str, tuple[int, str]]:
    """Restore `path` into the scratch database, read every table's rows and checksum, drop it again."""
    scratch = warehouse.with_dbname(url, RESTORE_DB)
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
            return table_contents(conn)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop database if exists {RESTORE_DB} with (force)")


def _differences(expected: dict, restored: dict, compare_content: bool) -> list[dict]:
    """Tables whose rows, or content when the backup recorded it, differ between the dump and the restore."""
    different = []
    for table in sorted(expected.keys() | restored.keys()):
        rows, checksum = expected.get(table, (None, None))
        restored_rows, restored_checksum = restored.get(table, (None, None))
        if rows != restored_rows or (compare_content and checksum != restored_checksum):
            content = "equal" if checksum == restored_checksum else "different"
            different.append({"table": table, "in_backup": rows, "restored": restored_rows, "content": content})
    return different


def _record_restore(url: str, backup_id: int, outcome: str, message: str | None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update audit.backup set restore_checked_at = now(), restore_outcome = %s, restore_message = %s "
            "where backup_id = %s",
            [outcome, message, backup_id],
        )
