"""Vectorised row checks for the loader's fast path: a whole block of records at once with Arrow and numpy.

The fast path only *finds* the rows that cannot load as they are; `RowValidator.row_fault` (the exact,
row-by-row reading of feeds.md) then names each one's reason and detail, so both paths quarantine
identically. Duplicate keys are decided by the reader once the whole file is read.
"""

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from laiou_assets import codes
from laiou_assets.contract import Feed, Kind
from laiou_assets.ingest.validate import DECIMAL_PATTERN, INT_PATTERN, code_sets

_DECIMAL = f"^{DECIMAL_PATTERN}$"
_INT = f"^{INT_PATTERN}$"
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])

_LUT = np.full(256, -1, dtype=np.int8)
for _i, _ch in enumerate(codes.USCC_ALPHABET):
    _LUT[ord(_ch)] = _i


class Anomaly(Exception):
    """The block is not one record per line, or Arrow cannot read it: the exact path takes over."""


def line_ends(data: bytes) -> np.ndarray:
    """Offset just past each line of a block of whole lines (the last line may lack its LF)."""
    src = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(src == ord("\n")) + 1
    return ends if not len(src) or src[-1] == ord("\n") else np.append(ends, len(src))


def crlf_to_lf(data: bytes) -> bytes:
    """A block whose lines end in CRLF or LF, mixed or not, with LF only (COPY wants one kind of line end);
    Anomaly if a CR ends no line (a character of its field: Arrow would take it for a line end)."""
    src = np.frombuffer(data, dtype=np.uint8)
    lf = np.flatnonzero(src == ord("\n"))
    crlf = np.count_nonzero(src[lf[lf > 0] - 1] == ord("\r"))
    if np.count_nonzero(src == ord("\r")) != crlf:
        raise Anomaly("a carriage return that ends no line")
    return data.translate(None, b"\r")


def parse_block(data: bytes, header: list[str], lines: int) -> pa.Table:
    """One block of `lines` whole lines (UTF-8) → a table of strings, one row per line, or Anomaly.

    A row with the wrong number of fields makes Arrow raise (no invalid-row handler: a Python callback
    doubles the parsing time); UTF-8 is checked only when the block is not plain ASCII.
    """
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=header, use_threads=False, block_size=len(data) + 1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=not data.isascii(),
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise Anomaly(str(exc)) from exc
    if table.num_rows != lines:
        raise Anomaly("blank line or a record over several lines")
    return table


def _offsets(values: pa.Array) -> np.ndarray:
    """The string array's n + 1 offsets into its data buffer (an Arrow slice starts at values.offset)."""
    return np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]


def _lengths(values: pa.Array) -> np.ndarray:
    """Byte length of each string, from its offsets."""
    return np.diff(_offsets(values))


def _fixed_width(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose value is `width` bytes long, and those values' bytes as an (n, width) uint8 matrix."""
    offsets = _offsets(values)
    sized = np.diff(offsets) == width
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    if sized.all():  # the usual case: the values' bytes are already an (n, width) matrix
        return sized, data[offsets[0] : offsets[-1]].reshape(-1, width)
    starts = offsets[:-1][sized]
    return sized, data[starts[:, None] + np.arange(width)]


MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def hash64(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each string, vectorised: equal strings, equal hashes.

    Used to tell, cheaply, that no key repeats; a repeated hash is then checked exactly. Strings are taken
    by length (keys are codes: nearly always one length per column), each length's bytes as a matrix of
    little-endian 64-bit words, so a string's hash depends only on its bytes, whatever block it is in.
    """
    values = one_array(values)
    lengths = _lengths(values)
    h = np.empty(len(values), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for width in np.unique(lengths):
            if width == 0:
                h[lengths == 0] = MULTIPLIER
                continue
            rows, matrix = _fixed_width(values, int(width))
            padded = -(-int(width) // 8) * 8
            if padded != width:
                matrix = np.concatenate([matrix, np.zeros((len(matrix), padded - width), np.uint8)], axis=1)
            words = np.ascontiguousarray(matrix).view("<u8")
            acc = np.full(len(matrix), width, dtype=np.uint64)
            for j in range(words.shape[1]):
                acc = (acc ^ words[:, j]) * MULTIPLIER
                acc ^= acc >> np.uint64(29)
            h[rows] = acc
    return h


def one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one Array (combine_chunks copies even a single chunk)."""
    if isinstance(values, pa.ChunkedArray):
        return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    return values


def _digits(matrix: np.ndarray, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """All the given byte columns are ASCII digits; and their decimal value."""
    d = matrix[:, columns].astype(np.int64) - ord("0")
    ok = ((d >= 0) & (d <= 9)).all(axis=1)
    value = np.zeros(len(matrix), dtype=np.int64)
    for k in range(len(columns)):
        value = value * 10 + d[:, k]
    return ok, value


def _valid_dates(values: pa.Array) -> np.ndarray:
    """YYYY-MM-DD naming a real day of year 1 or later (what PostgreSQL's date accepts and Python's too)."""
    ok, m = _fixed_width(values, 10)
    y_ok, year = _digits(m, [0, 1, 2, 3])
    mo_ok, month = _digits(m, [5, 6])
    d_ok, day = _digits(m, [8, 9])
    real_month = (month >= 1) & (month <= 12)
    month = np.where(real_month, month, 0)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = _MONTH_DAYS[month] + ((month == 2) & leap)
    ok[ok] = (
        y_ok
        & mo_ok
        & d_ok
        & (m[:, 4] == ord("-"))
        & (m[:, 7] == ord("-"))
        & (year >= 1)
        & (month >= 1)
        & (day >= 1)
        & (day <= days)
    )
    return ok


def _valid_months(values: pa.Array) -> np.ndarray:
    """YYYYMM with month 01–12."""
    ok, m = _fixed_width(values, 6)
    digits_ok, value = _digits(m, [0, 1, 2, 3, 4, 5])
    month = value % 100
    ok[ok] = digits_ok & (month >= 1) & (month <= 12)
    return ok


def _valid_uscc(values: pa.Array, allow_legacy: bool) -> np.ndarray:
    """R1 check character over a whole column (one matrix product for every 18-character code)."""
    ok = _lengths(values) == 18
    # Arrow's filter leaves the 18-byte values contiguous: cheaper than gathering them by fancy indexing.
    _, m = _fixed_width(values if ok.all() else values.filter(pa.array(ok)), 18)
    idx = _LUT[m]
    known = idx.min(axis=1) >= 0
    ok[ok] = known & (codes.uscc_check_indices(idx[:, :17]) == idx[:, 17])
    if allow_legacy:  # R9: a 15-character taxpayer_id is a legacy 税务登记号, resolved downstream
        ok |= pc.utf8_length(values).to_numpy(zero_copy_only=False) == 15
    return ok


class BatchValidator:
    """Finds, for a table of one block's records (header order), the rows that cannot load as they are."""

    def __init__(self, feed: Feed):
        self.feed = feed
        self.sets = {name: pa.array(sorted(values)) for name, values in code_sets().items()}

    def suspects(self, table: pa.Table) -> np.ndarray:
        """True for each row with any fault other than a duplicate key."""
        n = table.num_rows
        bad = np.zeros(n, dtype=bool)
        col = {c.name: one_array(table.column(c.name)) for c in self.feed.columns}
        for c in self.feed.columns:
            values = col[c.name]
            empty = _lengths(values) == 0
            if c.required:
                bad |= empty
            if c.kind is Kind.DATE:
                bad |= ~empty & ~_valid_dates(values)
            elif c.kind is Kind.MONTH:
                bad |= ~empty & ~_valid_months(values)
            elif c.kind is Kind.DECIMAL:
                bad |= ~empty & ~pc.match_substring_regex(values, _DECIMAL).to_numpy(zero_copy_only=False)
            elif c.kind is Kind.INT:
                bad |= ~empty & ~pc.match_substring_regex(values, _INT).to_numpy(zero_copy_only=False)
            elif c.kind is Kind.USCC:
                bad |= ~_valid_uscc(values, allow_legacy=c.name == "taxpayer_id")
            elif c.kind is Kind.CODE:
                if c.codes == "industry":
                    known = pc.match_substring_regex(values, r"^(0[1-9]|[1-8][0-9]|9[0-7])[0-9]{2}$")
                else:
                    known = pc.is_in(values, value_set=self.sets[c.codes])
                bad |= ~empty & ~known.to_numpy(zero_copy_only=False)
        if "status_date" in col:
            status = col["status"]
            needs_date = pc.and_(pc.not_equal(status, ""), pc.not_equal(status, "1"))
            bad |= (needs_date.to_numpy(zero_copy_only=False)) & (
                pc.equal(col["status_date"], "").to_numpy(zero_copy_only=False)
            )
        return bad
