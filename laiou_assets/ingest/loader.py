"""Load one delivery (feed × month) into raw.<feed> atomically, with quarantine and audit (feeds.md).

`reading.py` turns the file into COPY-ready rows and quarantined rows; this module runs the transaction:
the month's partition of raw.<feed> is truncated and refilled with COPY, its quarantine replaced and the
attempt logged, all or nothing. A file-level fault or a killed load rolls back, so the feed's earlier data
stays exactly as it was.

Every attempt leaves its row in audit.load_log, however it ends: `loaded` by the load's own transaction,
`failed` in a transaction of its own after a failure (on a new connection if the first was lost). An attempt
whose process is killed cannot write anything, so each attempt first writes a row in audit.load_attempt,
whose session holds an advisory lock named after it while it runs. The next start finds the row of a
killed attempt with nobody holding its lock (the server releases it with the dead session) and logs that
attempt as failed (died). The quarantine spool is an anonymous temporary file: nothing is left behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.copy import QueuedLibpqWriter

from laiou_assets import migrations
from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import (
    Delivery,
    FileFault,
    Manifest,
    Waiting,
    manifest_identity,
    read_manifest,
    require_manifest,
)
from laiou_assets.ingest.reading import BLOCK_BYTES, DeliveryReader, ReadSummary, header_of
from laiou_assets.ingest.schema import ensure_partition

ATTEMPT_LOCK = 31_0002  # two-key advisory lock class (apart from the one-key ids) held while an attempt runs
DIED = (
    "the attempt ended without a result: its process was killed, or its connection lost, before it could "
    "record one (found by the next start)"
)


@dataclass
class LoadResult:
    feed: str
    period: str
    file: str
    rows: int
    loaded: int
    quarantined: int
    quarantined_by_reason: dict[str, int]
    sha256: str
    seconds: float


def load_delivery(
    conn: psycopg.Connection,
    delivery: Delivery,
    landing: Path,
    progress: Callable[[str], None] = lambda msg: None,
) -> LoadResult:
    """Load one delivery, replacing the month's earlier rows. Raises FileFault (after logging it), or
    Waiting (logging nothing, touching nothing) when the manifest has not arrived.
    """
    require_manifest(delivery, landing)
    migrations.ensure_current(conn)
    record_dead_attempts(conn)
    started = datetime.now(UTC)
    csv_path = delivery.csv_path(landing)
    reconnect = (conn.info.dsn, conn.info.password)  # to record a failure when this connection is lost
    try:
        identity = manifest_identity(delivery, landing)
    except FileNotFoundError:  # withdrawn since the check above
        raise Waiting(f"{delivery.manifest_path(landing)}: no manifest any more; waiting") from None
    attempt = _begin_attempt(conn, delivery, csv_path, started, identity)
    manifest: Manifest | None = None
    try:
        manifest = read_manifest(delivery, landing)
        if not csv_path.exists() and not csv_path.is_symlink():
            raise FileFault(f"{csv_path}: CSV missing although its manifest is present")
        return _load_in_transaction(conn, delivery, csv_path, landing, manifest, attempt, progress)
    except FileFault as fault:
        _record_failure(conn, reconnect, attempt, manifest, str(fault), "file_fault")
        raise
    except BaseException as exc:  # a bug, a deadlock, a lost connection, Ctrl-C: still say how it ended
        _record_failure(conn, reconnect, attempt, manifest, _one_line(exc), "error")
        raise
    finally:
        _end_attempt(conn, attempt)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C or SIGINT) during the load"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"unexpected error: {type(exc).__name__}: {text}"


@dataclass(frozen=True)
class Attempt:
    id: int  # audit.load_attempt.attempt_id
    delivery: Delivery
    file: str
    started: datetime
    manifest_sha256: str


def _lock_key(attempt_id: int) -> int:
    return attempt_id % 2**31  # the two-key advisory lock takes int4 keys


def _begin_attempt(conn, delivery: Delivery, csv_path: Path, started: datetime, identity: str) -> Attempt:
    """The attempt's row in audit.load_attempt, visible to others only once its lock is held."""
    with conn.transaction():
        attempt_id = conn.execute(
            """insert into audit.load_attempt (feed, period, file, manifest_sha256, started_at)
               values (%s, %s, %s, %s, %s) returning attempt_id""",
            [delivery.feed, delivery.period_date, str(csv_path), identity, started],
        ).fetchone()[0]
        conn.execute("select pg_advisory_lock(%s, %s)", [ATTEMPT_LOCK, _lock_key(attempt_id)])
    return Attempt(attempt_id, delivery, str(csv_path), started, identity)


def _end_attempt(conn, attempt: Attempt) -> None:
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_unlock(%s, %s)", [ATTEMPT_LOCK, _lock_key(attempt.id)])
    except psycopg.Error:
        pass  # the connection is gone, and the lock with it


def record_dead_attempts(conn: psycopg.Connection) -> list[str]:
    """Log as failed (died) every attempt whose process is gone; one line for each."""
    with conn.transaction():
        if conn.execute("select to_regclass('audit.load_attempt')").fetchone()[0] is None:
            return []
        dead = conn.execute(
            """delete from audit.load_attempt a
               where not exists (
                 select 1 from pg_locks k
                 where k.locktype = 'advisory' and k.objsubid = 2 and k.classid = %s
                   and k.database = (select oid from pg_database where datname = current_database())
                   and k.objid = (a.attempt_id %% 2147483648)::int::oid)
               returning feed, period, file, manifest_sha256, started_at""",
            [ATTEMPT_LOCK],
        ).fetchall()
        for feed, period, file, identity, started in dead:
            conn.execute(
                """insert into audit.load_log (feed, period, file, control_column, started_at, outcome, message,
                     manifest_sha256, failure) values (%s, %s, %s, %s, %s, 'failed', %s, %s, 'died')""",
                [feed, period, file, FEEDS[feed].control_column, started, DIED, identity],
            )
    return [f"{feed} {period:%Y%m}: {file}: {DIED}" for feed, period, file, _, _ in dead]


def clean_stale_scratch() -> list[Path]:
    """Remove the scratch folders `laiou-load-*` that loads of earlier versions left in the temp dir when
    killed. This version keeps its quarantine spool in an anonymous temporary file, which vanishes with
    its process, so no live load owns such a folder."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob("laiou-load-*"):
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _load_in_transaction(conn, delivery, csv_path, landing, manifest, attempt: Attempt, progress) -> LoadResult:
    feed = FEEDS[delivery.feed]
    period = delivery.period_date
    partition = ensure_partition(conn, feed.name, period)
    columns = ", ".join(["_line", *header_of(csv_path, manifest, feed, landing)])  # a bad header fails here
    with conn.transaction(), tempfile.TemporaryFile(prefix="laiou-quarantine-") as spool:
        # One loader per feed-month at a time; a second waits rather than interleaving.
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"{feed.name}/{delivery.period}"])
        # The month's earlier rows go in the same transaction that loads the new ones (a correction replaces).
        conn.execute(f"truncate {partition}")
        # _loaded_at is now(), the transaction's start, for every row: given as a constant, PostgreSQL does
        # not call now() per row. The partition is already locked by the TRUNCATE.
        loaded_at = conn.execute("select now()::text").fetchone()[0]
        conn.execute(f"alter table {partition} alter column _loaded_at set default '{loaded_at}'")
        # The rewritten partition is fsynced at commit (wal_level minimal skips its WAL): start writing it out
        # while COPY runs rather than all at the end.
        conn.execute("set local backend_flush_after = '2MB'")
        conn.execute("delete from audit.quarantine where feed = %s and period = %s", [feed.name, period])
        reader = DeliveryReader(feed, csv_path, manifest, spool, landing)
        sent = 0
        # One COPY for the whole file, so PostgreSQL parses without pause while the reader checks on.
        # _period is the partition's default. FREEZE: the partition was truncated in this transaction.
        cursor = conn.cursor()
        with cursor.copy(
            f"copy {partition} ({columns}) from stdin (format csv, freeze, encoding 'UTF8')",
            writer=QueuedLibpqWriter(cursor),
        ) as copy:
            for part in reader:
                copy.write(part)
                sent += len(part)
                progress(f"{feed.name} {delivery.period}: {sent / 2**20:,.0f} MiB of rows sent to PostgreSQL")
        summary: ReadSummary = reader.summary
        if summary.retracted_lines:  # later occurrences of a key, found once the whole file was read
            conn.execute(f"delete from {partition} where _line = any(%s)", [summary.retracted_lines])
        load_id = conn.execute(
            """insert into audit.load_log (feed, period, file, sha256, rows, loaded, quarantined,
                 control_column, control_total_expected, control_total_loaded, control_total_quarantined,
                 started_at, outcome, message, manifest_sha256)
               values (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'loaded',%s,%s) returning load_id""",
            [
                feed.name,
                period,
                str(csv_path),
                summary.sha256,
                manifest.rows,
                summary.loaded,
                summary.quarantined,
                feed.control_column,
                manifest.control_total,
                summary.total_loaded,
                summary.total_quarantined,
                attempt.started,
                f"loaded {summary.loaded:,}, quarantined {summary.quarantined:,}",
                manifest.identity,  # the bytes this load read, should the manifest have changed since the start
            ],
        ).fetchone()[0]
        conn.execute("delete from audit.load_attempt where attempt_id = %s", [attempt.id])
        if summary.quarantined:
            spool.seek(0)
            _copy_quarantine(conn, spool, load_id, feed.name, period)
    seconds = (datetime.now(UTC) - attempt.started).total_seconds()
    return LoadResult(
        feed.name,
        delivery.period,
        str(csv_path),
        manifest.rows,
        summary.loaded,
        summary.quarantined,
        summary.by_reason,
        summary.sha256,
        seconds,
    )


def _copy_quarantine(conn, spool, load_id: int, feed: str, period) -> None:
    conn.execute(
        "create temp table if not exists _quarantine_in (line_no int, raw_line text, reason text, detail text) "
        "on commit drop"
    )
    with conn.cursor().copy("copy _quarantine_in from stdin (format csv)") as copy:
        while data := spool.read(BLOCK_BYTES):
            copy.write(data)
    conn.execute(
        """insert into audit.quarantine (load_id, feed, period, line_no, raw_line, reason, detail)
           select %s, %s, %s, line_no, raw_line, reason, detail from _quarantine_in order by line_no""",
        [load_id, feed, period],
    )


def _record_failure(conn, reconnect, attempt: Attempt, manifest: Manifest | None, message: str, failure: str):
    """Log the failed attempt and drop its row of audit.load_attempt, on the attempt's connection if it still
    works, else on a new one; if neither can, the next start logs the attempt as died."""
    feed = FEEDS[attempt.delivery.feed]
    params = [
        feed.name,
        attempt.delivery.period_date,
        attempt.file,
        manifest.rows if manifest else None,
        feed.control_column,
        manifest.control_total if manifest else None,
        attempt.started,
        message,
        attempt.manifest_sha256,
        failure,
        attempt.id,
    ]

    def record(c) -> None:
        with c.transaction():
            c.execute(
                """insert into audit.load_log (feed, period, file, rows, control_column, control_total_expected,
                     started_at, outcome, message, manifest_sha256, failure)
                   values (%s,%s,%s,%s,%s,%s,%s,'failed',%s,%s,%s)""",
                params[:-1],
            )
            c.execute("delete from audit.load_attempt where attempt_id = %s", params[-1:])

    try:
        record(conn)
        return
    except psycopg.Error:
        pass
    try:
        dsn, password = reconnect
        with psycopg.connect(dsn, password=password, autocommit=True, connect_timeout=10) as fresh:
            record(fresh)
    except psycopg.Error:
        pass
