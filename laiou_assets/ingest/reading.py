"""Reading one delivery's CSV into COPY-ready rows, without touching the database (feeds.md, Bad input).

One pass over the file, in blocks of whole lines: the bytes are hashed and each record is checked. Blocks
of one-line records (nearly every delivery) are parsed by Arrow and checked column-wise (`columnar.py`);
from the first block that is not (blank lines, fields over several lines, field-count faults, undecodable
bytes) the rest is read record by record with Python's csv module (`RowValidator`), which also names the
line of a file fault. Both quarantine identically. Good rows come out as CSV chunks for PostgreSQL's COPY,
quarantined rows go to a spool file; the file-level checks (sha256, rows, control total) run at the end.
The file's bytes, lines and RFC 4180 records (bounded, and opened only inside the zone) come from `records.py`.

The reader runs in the loader's process: the heavy work is in Arrow and numpy, and PostgreSQL parses the
rows sent in its own process, so the two cores are used without a reader process (which, measured on a
seed-scale tax month, cost a second to start and gained nothing once the checks were column-wise).
"""

import csv
import io
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas  # noqa: F401  pyarrow imports it on its first pa.array (0.4 s): here, not during a load
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from laiou_assets.contract import Feed
from laiou_assets.ingest.columnar import (
    MULTIPLIER,
    Anomaly,
    BatchValidator,
    crlf_to_lf,
    hash64,
    line_ends,
    parse_block,
)
from laiou_assets.ingest.landing import FileFault, Manifest, open_delivered
from laiou_assets.ingest.records import BLOCK_BYTES, Blocks, check_header, read_header, records, records_at
from laiou_assets.ingest.records import header_of as header_of  # the header check, for ops_checks and the loader
from laiou_assets.ingest.validate import RowValidator, is_decimal

BLOCK_ROWS = 50_000  # the exact path hashes its keys this many rows at a time


def number_lines(block: bytes, ends: np.ndarray, first_line: int) -> bytes | memoryview:
    """The block with `42,` before each line: its line number as a first column (Arrow, no Python loop)."""
    n = len(ends)
    if n == 0:
        return b""
    bounds = np.concatenate(([0], ends)).astype(np.int32)
    lines = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(bounds), pa.py_buffer(block)])
    numbers = pc.cast(
        pc.cast(pa.array(np.arange(first_line, first_line + n, dtype=np.int64)), pa.string()), pa.binary()
    )
    joined = pc.binary_join_element_wise(numbers, lines, b",")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    return memoryview(joined.buffers()[2])[offsets[0] : offsets[n]]  # no copy: COPY takes any buffer


@dataclass
class ReadSummary:
    """What one pass over a delivery found; the quarantined rows wait in the reader's spool (UTF-8 CSV)."""

    records: int = 0
    loaded: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    total_loaded: Decimal = Decimal(0)
    total_quarantined: Decimal = Decimal(0)
    sha256: str = ""
    retracted_lines: list[int] = field(default_factory=list)  # sent to COPY, then found to be duplicates


class DeliveryReader:
    """Iterate to get the rows to COPY: UTF-8 CSV, columns `_line` then the file's header order."""

    def __init__(self, feed: Feed, csv_path: Path, manifest: Manifest, spool: BinaryIO, zone: Path | None = None):
        """`spool` receives the quarantined rows (the loader's anonymous temporary file: nothing is left
        behind if the process dies); `zone` is the landing zone the CSV must lie in."""
        self.feed = feed
        self.path = csv_path
        self.manifest = manifest
        self.spool = spool
        self.zone = zone
        self.summary = ReadSummary()
        self.by_reason: Counter[str] = Counter()
        self.next_line = 2  # the header is line 1
        # Of every row sent to COPY: a 64-bit hash of its key and its line (12 bytes a row, whatever the file).
        self.key_hashes: list[np.ndarray] = []
        self.key_lines: list[np.ndarray] = []

    def __iter__(self) -> Iterator[bytes | memoryview]:
        q = io.TextIOWrapper(self.spool, encoding="utf-8", newline="")
        try:
            with open_delivered(self.path, self.zone, "CSV") as binary:
                self.quarantine = csv.writer(q)
                source = Blocks(binary, self.path)
                self.header = read_header(self.path, source, self.manifest)
                check_header(self.path, self.header, self.feed)
                self.validator = RowValidator(self.feed, self.header)
                self.batch = BatchValidator(self.feed)
                self.ctl = self.validator.control_pos
                blocks = source.blocks(BLOCK_BYTES)  # this module's, which tests make small
                for block in blocks:
                    try:
                        chunk = self.fast_block(block)
                    except Anomaly:
                        # From this block on, record by record: exact, and it names the line of a file fault.
                        yield from self.exact(itertools.chain([block], blocks))
                        break
                    yield chunk
                self._retract_duplicates(q)
        finally:
            q.flush()
            q.detach()  # the spool stays open for the loader (a wrapper closes its file when collected)
        self.summary.by_reason = dict(self.by_reason)
        self.summary.sha256 = source.hasher.hexdigest()
        self._check_file(self.summary)

    def _retract_duplicates(self, spool) -> None:
        """Duplicate keys among the rows sent to COPY: the first occurrence stays, later ones are retracted.

        Decided once for the whole file from the keys' hashes (one sort); only when a hash repeats is the file
        read a second time, for the rows with a repeated hash, to compare their keys exactly and quarantine
        the later occurrences as delivered.
        """
        if not self.key_hashes:
            return
        hashes = np.concatenate(self.key_hashes)
        lines = np.concatenate(self.key_lines)
        self.key_hashes, self.key_lines = [], []
        ranked = np.sort(hashes)  # not argsort: a plain sort of 64-bit integers is ten times faster
        same = ranked[1:] == ranked[:-1]
        if not same.any():
            return  # no key twice (equal keys have equal hashes): the usual case
        candidates = set(lines[np.isin(hashes, ranked[1:][same])].tolist())
        key_pos = [self.header.index(k) for k in self.feed.key]
        first: set[tuple] = set()
        later: dict[int, tuple] = {}
        for line, fields, text in records_at(self.path, self.manifest, candidates, self.zone):  # in line order
            k = tuple(fields[i] for i in key_pos)
            if k in first:
                later[line] = (k, Decimal(fields[self.ctl]), text)
            else:
                first.add(k)
        writer = csv.writer(spool)
        key = "+".join(self.feed.key)
        for line, (k, control, text) in sorted(later.items()):
            writer.writerow((line, text, "duplicate_key", f"{key}={'+'.join(k)} already in this file"))
            self.by_reason["duplicate_key"] += 1
            self.summary.quarantined += 1
            self.summary.loaded -= 1
            self.summary.total_loaded -= control
            self.summary.total_quarantined += control
        self.summary.retracted_lines = sorted(later)

    def _check_file(self, s: ReadSummary) -> None:
        m = self.manifest
        if s.sha256 != m.sha256:
            raise FileFault(f"{self.path}: sha256 {s.sha256} does not match the manifest's {m.sha256}")
        if s.records != m.rows:
            raise FileFault(f"{self.path}: {s.records:,} data rows, the manifest says {m.rows:,}")
        control = s.total_loaded + s.total_quarantined
        if control != m.control_total:
            raise FileFault(
                f"{self.path}: control total of {self.feed.control_column} is {control}, "
                f"the manifest says {m.control_total}"
            )

    def _quarantine(self, line: int, text: str, fields: list[str], fault: tuple[str, str]) -> None:
        reason, detail = fault
        self.quarantine.writerow((line, text, reason, detail))
        self.summary.quarantined += 1
        self.by_reason[reason] += 1
        if len(fields) == self.validator.width and is_decimal(fields[self.ctl]):
            self.summary.total_quarantined += Decimal(fields[self.ctl])

    def fast_block(self, block: bytes) -> bytes | memoryview:
        """A block of one-line records checked column-wise; raises Anomaly (having loaded nothing) if it is not.

        A block whose rows all load, and that has no quote characters (so that PostgreSQL's CSV reading and
        Arrow's cannot differ), is sent to COPY as delivered, with line numbers; otherwise its good rows are.
        """
        if b"\0" in block:
            raise Anomaly("NUL byte")
        try:
            utf8 = block if self.manifest.encoding == "UTF-8" else block.decode(self.manifest.codec).encode()
        except UnicodeDecodeError as exc:
            raise Anomaly(str(exc)) from exc
        if b"\r" in utf8:  # feeds.md allows LF and CRLF line ends, mixed too
            utf8 = crlf_to_lf(utf8)
        ends = line_ends(utf8)
        table = parse_block(utf8, self.header, len(ends))
        n = table.num_rows
        suspect = self.batch.suspects(table)
        good = ~suspect
        lines = utf8.decode().split("\n") if suspect.any() else None
        validator = self.validator
        for i in np.flatnonzero(suspect):
            text = lines[i]
            fields = next(csv.reader([text]))
            fault = validator.row_fault(fields)
            if fault is None:  # the column checks are a sieve; the row checks decide
                good[i] = True
            else:
                self._quarantine(self.next_line + i, text, fields, fault)
        if not suspect.any() and b'"' not in block:
            chunk = self._as_delivered(table, utf8, ends)
        else:
            chunk = self._csv_of(table, good)
        self.summary.records += n
        self.next_line += n
        return chunk

    def _remember_keys(self, keys: list[pa.Array], lines: np.ndarray) -> None:
        """Keep a hash of the key of each row sent to COPY, with its line, for the duplicate check."""
        combined = np.zeros(len(lines), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for values in keys:
                combined = combined * MULTIPLIER + hash64(values)
        self.key_hashes.append(combined)
        self.key_lines.append(np.asarray(lines, dtype=np.int32))

    def _as_delivered(self, table, utf8: bytes, ends: np.ndarray) -> bytes | memoryview:
        lines = np.arange(self.next_line, self.next_line + table.num_rows)
        self._remember_keys([table.column(k) for k in self.feed.key], lines)
        self.summary.loaded += table.num_rows
        control = pc.sum(pc.cast(table.column(self.feed.control_column), pa.decimal128(18, 2))).as_py()
        self.summary.total_loaded += control or 0
        return number_lines(utf8, ends, self.next_line)

    def _csv_of(self, table, good) -> bytes:
        mask = pa.array(good)
        kept = table.filter(mask)
        null = pa.scalar(None, pa.string())
        arrays = [pa.array(self.next_line + np.flatnonzero(good))]
        arrays += [pc.if_else(pc.equal(kept.column(c), ""), null, kept.column(c)) for c in self.header]
        rows = pa.table(arrays, names=["_line", *self.header])
        self._remember_keys([rows.column(k) for k in self.feed.key], self.next_line + np.flatnonzero(good))
        out = io.BytesIO()
        try:  # unquoted is less for PostgreSQL to parse; Arrow refuses it if a value needs quotes
            pacsv.write_csv(rows, out, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        except pa.ArrowInvalid:
            out = io.BytesIO()
            pacsv.write_csv(rows, out, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        self.summary.loaded += kept.num_rows
        if kept.num_rows:
            control = pc.sum(pc.cast(kept.column(self.feed.control_column), pa.decimal128(18, 2))).as_py()
            self.summary.total_loaded += control
        return out.getvalue()

    def exact(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        """Record by record from here to the end: decode each line, parse RFC 4180, validate, COPY."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        key_pos = [self.header.index(k) for k in self.feed.key]
        keys: list[list[str]] = [[] for _ in key_pos]  # of the rows sent, hashed every BLOCK_ROWS rows
        lines: list[int] = []
        for line, fields, text in records(self.path, self.manifest, blocks, self.next_line):
            self.summary.records += 1
            fault = self.validator.row_fault(fields)
            if fault is None:
                if "\r" in text:  # csv.writer ending lines in LF would leave a CR in a value unquoted
                    out.write(_quoted_row(line, fields))
                else:
                    writer.writerow((line, *(value or None for value in fields)))
                for values, k in zip(keys, key_pos, strict=True):
                    values.append(fields[k])
                lines.append(line)
                if len(lines) >= BLOCK_ROWS:
                    self._remember_keys([pa.array(v, pa.string()) for v in keys], np.array(lines))
                    keys, lines = [[] for _ in key_pos], []
                self.summary.loaded += 1
                # A loaded row passed the control column's required-decimal check: it always counts.
                self.summary.total_loaded += Decimal(fields[self.ctl])
                if out.tell() > BLOCK_BYTES:
                    yield out.getvalue().encode()
                    out.seek(0)
                    out.truncate()
            else:
                self._quarantine(line, text, fields, fault)
        yield out.getvalue().encode()
        if lines:
            self._remember_keys([pa.array(v, pa.string()) for v in keys], np.array(lines))


def _quoted_row(line: int, fields: list[str]) -> str:
    """A row for COPY with every value quoted (an empty field stays unquoted: NULL)."""
    values = ('"' + value.replace('"', '""') + '"' if value else "" for value in fields)
    return f"{line}," + ",".join(values) + "\n"
