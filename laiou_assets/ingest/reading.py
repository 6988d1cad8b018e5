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
import pandas  # noqa: F401  pyarrow imports it on its first pa.array (0.4 s): here, not during a load
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from laiou_assets.contract import Feed
from laiou_assets.ingest.columnar import MULTIPLIER, Anomaly, BatchValidator, hash64, line_ends, parse_block
from laiou_assets.ingest.landing import FileFault, Manifest
from laiou_assets.ingest.validate import RowValidator, is_decimal

BLOCK_BYTES = 2 << 20  # read, checked and sent to COPY a block at a time
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
        # Of every row sent to COPY: a 64-bit hash of its key and its line (12 bytes a row, whatever the file).
        self.key_hashes: list[np.ndarray] = []
        self.key_lines: list[np.ndarray] = []

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
        for line, fields, text in _records_at(self.path, self.manifest, candidates):  # in line order
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
        ends = line_ends(utf8)
        table = parse_block(utf8, self.header, len(ends))
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
        for line, fields, text in _records(self.path, self.manifest, blocks, self.next_line):
            self.summary.records += 1
            fault = self.validator.row_fault(fields)
            if fault is None:
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


def _records_at(path: Path, manifest: Manifest, starts: set[int]) -> Iterator[tuple[int, list[str], str]]:
    """(line, fields, text as delivered) of the records that start at the given lines (a second, exact pass)."""
    with open(path, "rb") as binary:
        source = _Blocks(binary)
        source.readline()  # the header
        for line, fields, text in _records(path, manifest, source.blocks(), 2):
            if line in starts:
                yield line, fields, text
