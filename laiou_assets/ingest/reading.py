"""Reading one delivery's CSV into COPY-ready rows, without touching the database (feeds.md, Bad input).

One pass over the file, in blocks of whole lines: the bytes are hashed and each record is checked. Blocks
of one-line records (nearly every delivery) are parsed by Arrow and checked column-wise (`columnar.py`);
from the first block that is not (blank lines, fields over several lines, field-count faults, undecodable
bytes) the rest is read record by record with Python's csv module (`RowValidator`), which also names the
line of a file fault. Both quarantine identically. Good rows come out as CSV chunks for PostgreSQL's COPY,
quarantined rows go to a spool file; the file-level checks (sha256, rows, control total) run at the end.

The reader runs in the loader's process: the heavy work is in Arrow and numpy, and PostgreSQL parses the
rows sent in its own process, so the two cores are used without a reader process (which, measured on a
seed-scale tax month, cost a second to start and gained nothing once the checks were column-wise).
"""

import csv
import hashlib
import io
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from laiou_assets.contract import Feed
from laiou_assets.ingest.columnar import MULTIPLIER, Anomaly, BatchValidator, hash64, parse_block
from laiou_assets.ingest.landing import FileFault, Manifest
from laiou_assets.ingest.validate import RowValidator, is_decimal

BLOCK_BYTES = 2 << 20  # read, checked and sent to COPY a block at a time


def number_lines(block: bytes, first_line: int) -> bytes | memoryview:
    """The block with `42,` before each line: its line number as a first column (Arrow, no Python loop)."""
    src = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(src == ord("\n")) + 1
    bounds = np.concatenate(([0], ends, [len(src)] if len(src) and src[-1] != ord("\n") else []))
    n = len(bounds) - 1
    if n <= 0:
        return b""
    lines = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(bounds.astype(np.int32)), pa.py_buffer(block)])
    numbers = pc.cast(
        pc.cast(pa.array(np.arange(first_line, first_line + n, dtype=np.int64)), pa.string()), pa.binary()
    )
    joined = pc.binary_join_element_wise(numbers, lines, b",")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    return memoryview(joined.buffers()[2])[offsets[0] : offsets[n]]  # no copy: COPY takes any buffer


@dataclass
class ReadSummary:
    """What one pass over a delivery found; the quarantined rows wait in `quarantine_path` (CSV)."""

    records: int = 0
    loaded: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    total_loaded: Decimal = Decimal(0)
    total_quarantined: Decimal = Decimal(0)
    sha256: str = ""
    quarantine_path: str = ""
    retracted_lines: list[int] = field(default_factory=list)  # sent to COPY, then found to be duplicates


class DeliveryReader:
    """Iterate to get the rows to COPY: UTF-8 CSV, columns `_line` then the file's header order."""

    def __init__(self, feed: Feed, csv_path: Path, manifest: Manifest, quarantine_path: str):
        self.feed = feed
        self.path = csv_path
        self.manifest = manifest
        self.summary = ReadSummary(quarantine_path=quarantine_path)
        self.by_reason: Counter[str] = Counter()
        self.next_line = 2  # the header is line 1
        self.keys: list[pa.Table] = []  # key columns, _line and control value of every row sent to COPY
        self.key_hashes: list[np.ndarray] = []  # and a 64-bit hash of each one's key

    def __iter__(self) -> Iterator[bytes | memoryview]:
        with (
            open(self.path, "rb") as binary,
            open(self.summary.quarantine_path, "w", encoding="utf-8", newline="") as q,
        ):
            self.quarantine = csv.writer(q)
            source = _Blocks(binary)
            self.header = _read_header(self.path, source, self.manifest)
            _check_header(self.path, self.header, self.feed)
            self.validator = RowValidator(self.feed, self.header)
            self.batch = BatchValidator(self.feed)
            self.ctl = self.validator.control_pos
            blocks = source.blocks()
            for block in blocks:
                try:
                    chunk = self.fast_block(block)
                except Anomaly:
                    # From this block on, record by record: exact, and it names the line of a file fault.
                    yield from self.exact(itertools.chain([block], blocks))
                    break
                yield chunk
            self._retract_duplicates(q)
        self.summary.by_reason = dict(self.by_reason)
        self.summary.sha256 = source.hasher.hexdigest()
        self._check_file(self.summary)

    def _retract_duplicates(self, spool) -> None:
        """Duplicate keys among the rows sent to COPY: the first occurrence stays, later ones are retracted.

        Decided once for the whole file (one hash aggregation) rather than row by row; a file with
        duplicates (a producer error) is read a second time to quarantine those rows as delivered.
        """
        if not self.keys:
            return
        sent = pa.concat_tables(self.keys)
        self.keys = []
        key = list(self.feed.key)
        hashes = np.sort(np.concatenate(self.key_hashes))
        self.key_hashes = []
        if not (hashes[1:] == hashes[:-1]).any():
            return  # no key twice (equal keys have equal hashes): the usual case, decided by one sort
        counts = sent.group_by(key).aggregate([("_line", "count")])
        repeated = counts.filter(pc.greater(counts["_line_count"], 1))
        if repeated.num_rows == 0:
            return
        rows = sent.join(repeated.select(key), key).sort_by("_line").to_pylist()
        first: set[tuple] = set()
        later: dict[int, tuple] = {}
        for row in rows:
            k = tuple(row[c] for c in key)
            if k in first:
                later[row["_line"]] = (k, Decimal(row[self.feed.control_column]))
            else:
                first.add(k)
        writer = csv.writer(spool)
        for line, text in _records_at(self.path, self.manifest, set(later)):
            k, control = later[line]
            detail = f"{'+'.join(key)}={'+'.join(k)} already in this file"
            writer.writerow((line, text, "duplicate_key", detail))
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
        table = parse_block(utf8, self.header)
        n = table.num_rows
        suspect = self.batch.suspects(table)
        good = ~suspect
        lines = utf8.decode().split("\n") if suspect.any() else None
        validator = self.validator
        for i in np.flatnonzero(suspect):
            text = lines[i].rstrip("\r")
            fields = next(csv.reader([text]))
            fault = validator.row_fault(fields)
            if fault is None:  # the column checks are a sieve; the row checks decide
                good[i] = True
            else:
                self._quarantine(self.next_line + i, text, fields, fault)
        if not suspect.any() and b'"' not in block:
            chunk = self._as_delivered(table, utf8)
        else:
            chunk = self._csv_of(table, good)
        self.summary.records += n
        self.next_line += n
        return chunk

    def _remember_keys(self, sent: pa.Table) -> None:
        """Keep the keys (with _line and control value) of rows sent to COPY, for the duplicate check."""
        self.keys.append(sent)
        combined = np.zeros(sent.num_rows, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in self.feed.key:
                combined = combined * MULTIPLIER + hash64(sent[k])
        self.key_hashes.append(combined)

    def _as_delivered(self, table, utf8: bytes) -> bytes | memoryview:
        lines = pa.array(np.arange(self.next_line, self.next_line + table.num_rows))
        self._remember_keys(
            pa.table(
                [*(table.column(k) for k in self.feed.key), lines, table.column(self.feed.control_column)],
                names=[*self.feed.key, "_line", self.feed.control_column],
            )
        )
        self.summary.loaded += table.num_rows
        control = pc.sum(pc.cast(table.column(self.feed.control_column), pa.decimal128(18, 2))).as_py()
        self.summary.total_loaded += control or 0
        return number_lines(utf8, self.next_line)

    def _csv_of(self, table, good) -> bytes:
        mask = pa.array(good)
        kept = table.filter(mask)
        null = pa.scalar(None, pa.string())
        arrays = [pa.array(self.next_line + np.flatnonzero(good))]
        arrays += [pc.if_else(pc.equal(kept.column(c), ""), null, kept.column(c)) for c in self.header]
        rows = pa.table(arrays, names=["_line", *self.header])
        self._remember_keys(rows.select([*self.feed.key, "_line", self.feed.control_column]))
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
        ctl_pos = self.header.index(self.feed.control_column)
        exact_keys: list[tuple] = []
        for line, fields, text in _records(self.path, self.manifest, blocks, self.next_line):
            self.summary.records += 1
            fault = self.validator.row_fault(fields)
            if fault is None:
                writer.writerow((line, *(value or None for value in fields)))
                exact_keys.append((*(fields[k] for k in key_pos), line, fields[ctl_pos]))
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
        if exact_keys:
            columns = list(zip(*exact_keys, strict=True))
            self._remember_keys(
                pa.table(
                    [pa.array(c, pa.string()) for c in columns[: len(key_pos)]]
                    + [pa.array(columns[-2], pa.int64()), pa.array(columns[-1], pa.string())],
                    names=[*self.feed.key, "_line", self.feed.control_column],
                )
            )


class _Blocks:
    """The file's bytes in blocks of whole lines, hashed as they are read (one pass, bounded memory)."""

    def __init__(self, binary):
        self.binary = binary
        self.hasher = hashlib.sha256()

    def readline(self) -> bytes:
        line = self.binary.readline()
        self.hasher.update(line)
        return line

    def blocks(self) -> Iterator[bytes]:
        """Blocks ending at a line end (the last one perhaps not)."""
        rest = b""
        while chunk := self.binary.read(BLOCK_BYTES):
            self.hasher.update(chunk)
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                rest += chunk
                continue
            yield rest + chunk[:cut]
            rest = chunk[cut:]
        if rest:
            yield rest


def _lines(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines (ending in LF, CRLF kept) of consecutive blocks; a CR alone does not end a line."""
    for block in blocks:
        parts = block.split(b"\n")
        for part in parts[:-1]:
            yield part + b"\n"
        if parts[-1]:
            yield parts[-1]


def header_of(path: Path, manifest: Manifest, feed: Feed) -> list[str]:
    """The file's header columns, checked against the contract (FileFault naming line 1 if wrong)."""
    with open(path, "rb") as binary:
        header = _read_header(path, _Blocks(binary), manifest)
    _check_header(path, header, feed)
    return header


def _read_header(path: Path, source: _Blocks, manifest: Manifest) -> list[str]:
    raw = source.readline()
    if not raw.strip():
        raise FileFault(f"{path}:1: empty file, no header row")
    try:
        text = raw.decode(manifest.codec)  # utf-8-sig drops a BOM
    except UnicodeDecodeError as exc:
        raise FileFault(f"{path}:1: bytes not valid {manifest.encoding} at byte {exc.start + 1} of the line") from exc
    return [h.strip() for h in next(csv.reader([text]))]


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


def _records(path: Path, manifest: Manifest, blocks: Iterator[bytes], first_line: int):
    """Each RFC 4180 record of the lines in `blocks` (numbered from `first_line`, after the header): its
    first line, its fields and its text as delivered without the line end. Blank lines are not records.
    Undecodable bytes and NUL are file faults naming the line."""
    codec = manifest.codec.replace("-sig", "")  # a BOM only starts the file (the header's line)
    line_no = first_line - 1
    pending: list[str] = []

    def decoded():
        nonlocal line_no
        for raw in _lines(blocks):
            line_no += 1
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise FileFault(
                    f"{path}:{line_no}: bytes not valid {manifest.encoding} at byte {exc.start + 1} of the line"
                ) from exc
            if "\0" in text:
                raise FileFault(f"{path}:{line_no}: NUL byte, which PostgreSQL text cannot hold")
            pending.append(text)
            yield text

    start = first_line
    for fields in csv.reader(decoded(), strict=False):
        text = "".join(pending).rstrip("\r\n")
        pending.clear()
        if fields or text:
            yield start, fields, text
        start = line_no + 1


def _records_at(path: Path, manifest: Manifest, starts: set[int]) -> Iterator[tuple[int, str]]:
    """(line, text as delivered) of the records that start at the given lines (a second, exact pass)."""
    with open(path, "rb") as binary:
        source = _Blocks(binary)
        source.readline()  # the header
        for line, _fields, text in _records(path, manifest, source.blocks(), 2):
            if line in starts:
                yield line, text
