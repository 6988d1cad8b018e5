"""Load one delivery (feed × month) into raw.<feed> atomically, with quarantine and audit (feeds.md).

`reading.py` turns the file into COPY-ready rows and quarantined rows; this module runs the transaction:
the month's partition of raw.<feed> is truncated and refilled with COPY, its quarantine replaced and the
attempt logged, all or nothing. A file-level fault or a killed load rolls back, so the feed's earlier data
stays exactly as it was; a failed attempt is still written to audit.load_log, in its own transaction.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.copy import QueuedLibpqWriter

from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import Delivery, FileFault, Manifest, Waiting, read_manifest
from laiou_assets.ingest.reading import BLOCK_BYTES, DeliveryReader, ReadSummary, header_of
from laiou_assets.ingest.schema import ensure_partition, ensure_schemas


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
    ensure_schemas(conn)
    started = datetime.now(UTC)
    csv_path = delivery.csv_path(landing)
    manifest: Manifest | None = None
    try:
        manifest = read_manifest(delivery, landing)
        if not csv_path.exists():
            raise FileFault(f"{csv_path}: CSV missing although its manifest is present")
        return _load_in_transaction(conn, delivery, csv_path, manifest, started, progress)
    except Waiting:
        raise  # not an attempt: nothing to log
    except FileFault as fault:
        _log_failure(conn, delivery, csv_path, manifest, started, str(fault))
        raise
    except Exception as exc:  # a bug or a lost connection: still leave a trace of the attempt
        _log_failure(conn, delivery, csv_path, manifest, started, f"unexpected error: {exc!r}")
        raise


def _load_in_transaction(conn, delivery, csv_path, manifest, started, progress) -> LoadResult:
    feed = FEEDS[delivery.feed]
    period = delivery.period_date
    partition = ensure_partition(conn, feed.name, period)
    with conn.transaction():
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
        with tempfile.TemporaryDirectory(prefix="laiou-load-") as scratch:
            reader = DeliveryReader(feed, csv_path, manifest, str(Path(scratch) / "quarantine.csv"))
            columns = ", ".join(["_line", *header_of(csv_path, manifest, feed)])
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
                     started_at, outcome, message)
                   values (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'loaded',%s) returning load_id""",
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
                    started,
                    f"loaded {summary.loaded:,}, quarantined {summary.quarantined:,}",
                ],
            ).fetchone()[0]
            if summary.quarantined:
                _copy_quarantine(conn, summary.quarantine_path, load_id, feed.name, period)
    seconds = (datetime.now(UTC) - started).total_seconds()
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


def _copy_quarantine(conn, path: str, load_id: int, feed: str, period) -> None:
    conn.execute(
        "create temp table if not exists _quarantine_in (line_no int, raw_line text, reason text, detail text) "
        "on commit drop"
    )
    with open(path, "rb") as spool, conn.cursor().copy("copy _quarantine_in from stdin (format csv)") as copy:
        while data := spool.read(BLOCK_BYTES):
            copy.write(data)
    conn.execute(
        """insert into audit.quarantine (load_id, feed, period, line_no, raw_line, reason, detail)
           select %s, %s, %s, line_no, raw_line, reason, detail from _quarantine_in order by line_no""",
        [load_id, feed, period],
    )


def _log_failure(conn, delivery, csv_path, manifest, started, message) -> None:
    feed = FEEDS[delivery.feed]
    with conn.transaction():
        conn.execute(
            """insert into audit.load_log (feed, period, file, rows, control_column, control_total_expected,
                 started_at, outcome, message) values (%s,%s,%s,%s,%s,%s,%s,'failed',%s)""",
            [
                feed.name,
                delivery.period_date,
                str(csv_path),
                manifest.rows if manifest else None,
                feed.control_column,
                manifest.control_total if manifest else None,
                started,
                message,
            ],
        )
