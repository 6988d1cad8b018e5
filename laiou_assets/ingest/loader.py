"""Load one delivery (feed × month) into raw.<feed> atomically, with quarantine and audit (feeds.md).

One pass over the file: bytes are hashed, decoded line by line (so an undecodable byte is reported with
its line), parsed as RFC 4180 CSV, validated, and streamed to PostgreSQL with COPY inside the same
transaction that deleted the month's earlier rows. File-level faults roll the transaction back, so the
feed's earlier data stays exactly as it was; the failed attempt is still written to audit.load_log.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import Delivery, FileFault, Manifest, read_manifest
from laiou_assets.ingest.schema import ensure_schemas
from laiou_assets.ingest.validate import RowValidator, is_decimal

PROGRESS_EVERY = 250_000


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


class _Reader:
    """Decoded lines of a CSV file that keep their line numbers and raw text for each record."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest
        self.hasher = hashlib.sha256()
        self.line_no = 0
        self.record_lines: list[str] = []

    def lines(self, binary) -> Iterator[str]:
        codec = self.manifest.codec
        for raw in binary:
            self.hasher.update(raw)
            self.line_no += 1
            try:
                # The BOM may only start the file; later lines decode as plain UTF-8.
                text = raw.decode(codec if self.line_no == 1 else codec.replace("-sig", ""))
            except UnicodeDecodeError as exc:
                raise FileFault(
                    f"{self.path}:{self.line_no}: bytes not valid {self.manifest.encoding} "
                    f"at byte {exc.start + 1} of the line"
                ) from exc
            self.record_lines.append(text)
            yield text

    def take_record_text(self) -> str:
        text = "".join(self.record_lines)
        self.record_lines = []
        return text.rstrip("\r\n")


def load_delivery(
    conn: psycopg.Connection,
    delivery: Delivery,
    landing: Path,
    progress: Callable[[str], None] = lambda msg: None,
) -> LoadResult:
    """Load one delivery, replacing the month's earlier rows. Raises FileFault (after logging it)."""
    ensure_schemas(conn)
    started = datetime.now(UTC)
    csv_path = delivery.csv_path(landing)
    manifest: Manifest | None = None
    try:
        manifest = read_manifest(delivery, landing)
        if not csv_path.exists():
            raise FileFault(f"{csv_path}: CSV missing although its manifest is present")
        with conn.transaction():
            result = _load_in_transaction(conn, delivery, csv_path, manifest, started, progress)
        return result
    except FileFault as fault:
        _log_failure(conn, delivery, csv_path, manifest, started, str(fault))
        raise
    except Exception as exc:  # a bug or a lost connection: still leave a trace of the attempt
        _log_failure(conn, delivery, csv_path, manifest, started, f"unexpected error: {exc!r}")
        raise


def _load_in_transaction(conn, delivery, csv_path, manifest, started, progress) -> LoadResult:
    feed = FEEDS[delivery.feed]
    period = delivery.period_date
    # One loader per feed-month at a time; a second waits rather than interleaving.
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"{feed.name}/{delivery.period}"])
    conn.execute(f"delete from raw.{feed.name} where _period = %s", [period])
    conn.execute("delete from audit.quarantine where feed = %s and period = %s", [feed.name, period])

    reader = _Reader(csv_path, manifest)
    quarantine: list[tuple[int, str, str, str]] = []
    by_reason: dict[str, int] = {}
    records = loaded = 0
    total_loaded = Decimal(0)
    total_quarantined = Decimal(0)
    columns = ", ".join(feed.column_names) + ", _period, _line"

    with open(csv_path, "rb") as binary:
        rows = csv.reader(reader.lines(binary), strict=False)
        header_record = next(rows, None)
        if header_record is None:
            raise FileFault(f"{csv_path}:1: empty file, no header row")
        reader.take_record_text()
        header = [h.strip() for h in header_record]
        _check_header(csv_path, header, feed)
        validator = RowValidator(feed, header)
        ctl = validator.control_pos
        with conn.cursor().copy(f"copy raw.{feed.name} ({columns}) from stdin") as copy:
            start_line = reader.line_no + 1
            for fields in rows:
                text = reader.take_record_text()
                line = start_line
                start_line = reader.line_no + 1
                if not fields and text == "":
                    continue  # a blank line holds no record
                records += 1
                fault = validator.fault(fields)
                if fault is None:
                    copy.write_row((*validator.ordered(fields), period, line))
                    loaded += 1
                    # A loaded row passed the control column's required-decimal check: it always counts.
                    total_loaded += Decimal(fields[ctl])
                else:
                    reason, detail = fault
                    quarantine.append((line, text, reason, detail))
                    by_reason[reason] = by_reason.get(reason, 0) + 1
                    if len(fields) == validator.width and is_decimal(fields[ctl]):
                        total_quarantined += Decimal(fields[ctl])
                if records % PROGRESS_EVERY == 0:
                    progress(f"{feed.name} {delivery.period}: {records:,} of {manifest.rows:,} records read")

    digest = reader.hasher.hexdigest()
    if digest != manifest.sha256:
        raise FileFault(f"{csv_path}: sha256 {digest} does not match the manifest's {manifest.sha256}")
    if records != manifest.rows:
        raise FileFault(f"{csv_path}: {records:,} data rows, the manifest says {manifest.rows:,}")
    if total_loaded + total_quarantined != manifest.control_total:
        raise FileFault(
            f"{csv_path}: control total of {feed.control_column} is {total_loaded + total_quarantined}, "
            f"the manifest says {manifest.control_total}"
        )

    load_id = conn.execute(
        """insert into audit.load_log (feed, period, file, sha256, rows, loaded, quarantined, control_column,
             control_total_expected, control_total_loaded, control_total_quarantined, started_at, outcome, message)
           values (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'loaded',%s) returning load_id""",
        [
            feed.name,
            period,
            str(csv_path),
            digest,
            manifest.rows,
            loaded,
            len(quarantine),
            feed.control_column,
            manifest.control_total,
            total_loaded,
            total_quarantined,
            started,
            f"loaded {loaded:,}, quarantined {len(quarantine):,}",
        ],
    ).fetchone()[0]
    if quarantine:
        with conn.cursor().copy(
            "copy audit.quarantine (load_id, feed, period, line_no, raw_line, reason, detail) from stdin"
        ) as copy:
            for line, text, reason, detail in quarantine:
                copy.write_row((load_id, feed.name, period, line, text, reason, detail))
    seconds = (datetime.now(UTC) - started).total_seconds()
    return LoadResult(
        feed.name, delivery.period, str(csv_path), manifest.rows, loaded, len(quarantine), by_reason, digest, seconds
    )


def _check_header(path: Path, header: list[str], feed) -> None:
    expected = set(feed.column_names)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise FileFault(f"{path}:1: column(s) {', '.join(dupes)} appear more than once in the header")
    missing = [c for c in feed.column_names if c not in header]
    if missing:
        raise FileFault(f"{path}:1: required column(s) missing from the header: {', '.join(missing)}")
    unknown = [h for h in header if h not in expected]
    if unknown:
        raise FileFault(f"{path}:1: unknown column(s) in the header: {', '.join(unknown)}")


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
