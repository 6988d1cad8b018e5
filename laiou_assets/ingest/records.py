"""A delivery's CSV as lines and RFC 4180 records, read in bounded blocks (feeds.md: CSV, Bad input).

Only LF and CRLF end a line (feeds.md), also mixed in one file; a carriage return anywhere else is a
character of its field, which the row checks then judge like any other. No line may exceed MAX_LINE_BYTES
and no header MAX_HEADER_BYTES, so a file without line ends cannot exhaust memory.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

from laiou_assets.contract import Feed
from laiou_assets.ingest.landing import FileFault, Manifest, open_delivered

BLOCK_BYTES = 2 << 20  # read, checked and sent to COPY a block at a time
MAX_LINE_BYTES = 64 << 20  # far beyond any record of feeds.md, and still in memory twice over
MAX_HEADER_BYTES = 64 << 10

# The csv module refuses fields over 128 KiB by default, which would fail a whole month over one long name.
# Lines are bounded above; a field may be as long as a line.
csv.field_size_limit(MAX_LINE_BYTES)


class Blocks:
    """The file's bytes in blocks of whole lines, hashed as they are read (one pass, bounded memory)."""

    def __init__(self, binary, path: Path):
        self.binary = binary
        self.path = path
        self.hasher = hashlib.sha256()

    def readline(self, limit: int) -> bytes:
        line = self.binary.readline(limit + 1)
        self.hasher.update(line)
        return line

    def blocks(self, size: int = BLOCK_BYTES) -> Iterator[bytes]:
        """Blocks of about `size` bytes ending at a line end (the last one perhaps not)."""
        rest = b""
        while chunk := self.binary.read(size):
            self.hasher.update(chunk)
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                rest += chunk
                if len(rest) > MAX_LINE_BYTES:
                    line = self._line_at(self.binary.tell() - len(rest))
                    raise FileFault(
                        f"{self.path}:{line}: line longer than {MAX_LINE_BYTES >> 20} MiB, "
                        "which no record of feeds.md is (a file without line ends?)"
                    )
                continue
            yield rest + chunk[:cut]
            rest = chunk[cut:]
        if rest:
            yield rest

    def _line_at(self, offset: int) -> int:
        """The line number at a byte offset (counted again from the start: only to name a fault)."""
        self.binary.seek(0)
        ends = 0
        while offset > 0 and (chunk := self.binary.read(min(BLOCK_BYTES, offset))):
            ends += chunk.count(b"\n")
            offset -= len(chunk)
        return ends + 1


def _lines(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines (ending in LF, CRLF kept) of consecutive blocks; a CR alone does not end a line."""
    for block in blocks:
        parts = block.split(b"\n")
        for part in parts[:-1]:
            yield part + b"\n"
        if parts[-1]:
            yield parts[-1]


def without_line_end(text: str) -> str:
    """The text without its one LF or CRLF line end (a CR before it that is not part of it stays)."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def header_of(path: Path, manifest: Manifest, feed: Feed, zone: Path | None = None) -> list[str]:
    """The file's header columns, checked against the contract (FileFault naming line 1 if wrong)."""
    with open_delivered(path, zone, "CSV") as binary:
        header = read_header(path, Blocks(binary, path), manifest)
    check_header(path, header, feed)
    return header


def read_header(path: Path, source: Blocks, manifest: Manifest) -> list[str]:
    raw = source.readline(MAX_HEADER_BYTES)
    if len(raw) > MAX_HEADER_BYTES:
        raise FileFault(f"{path}:1: no line end in the first {MAX_HEADER_BYTES >> 10} KiB: not a header row")
    if not raw.strip():
        raise FileFault(f"{path}:1: empty file, no header row")
    try:
        text = raw.decode(manifest.codec)  # utf-8-sig drops a BOM
    except UnicodeDecodeError as exc:
        raise FileFault(f"{path}:1: bytes not valid {manifest.encoding} at byte {exc.start + 1} of the line") from exc
    text = without_line_end(text)
    if "\r" in text:
        raise FileFault(f"{path}:1: carriage return inside the header row (lines end in LF or CRLF, feeds.md)")
    if "\0" in text:
        raise FileFault(f"{path}:1: NUL byte in the header row")
    return [h.strip() for h in next(csv.reader([text]))]


def check_header(path: Path, header: list[str], feed) -> None:
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


def records(path: Path, manifest: Manifest, blocks: Iterator[bytes], first_line: int):
    """Each RFC 4180 record of the lines in `blocks` (numbered from `first_line`, after the header): its
    first line, its fields and its text as delivered without the line end. Blank lines are not records.
    Undecodable bytes and NUL are file faults naming the line."""
    codec = manifest.codec.replace("-sig", "")  # a BOM only starts the file (the header's line)
    line_no = first_line - 1
    pending: list[str] = []
    bare_cr = False

    def decoded():
        nonlocal line_no, bare_cr
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
            if "\r" in text:
                body = without_line_end(text)
                if "\r" in body:
                    # The csv module would end the record at this CR: it reads a NUL in its place (no decoded
                    # line holds one, see above), given back as the CR once the record is split.
                    bare_cr = True
                    text = body.replace("\r", "\0") + text[len(body) :]
            yield text

    reader = csv.reader(decoded(), strict=False)
    start = first_line
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # past the field limit: an unclosed quote swallowing the rest of the file
            raise FileFault(f"{path}:{start}: the record starting on this line cannot be read ({exc})") from None
        text = without_line_end("".join(pending))
        pending.clear()
        if bare_cr:
            fields = [f.replace("\0", "\r") for f in fields]
            bare_cr = False
        if fields or text:
            yield start, fields, text
        start = line_no + 1


def records_at(
    path: Path, manifest: Manifest, starts: set[int], zone: Path | None = None
) -> Iterator[tuple[int, list[str], str]]:
    """(line, fields, text as delivered) of the records that start at the given lines (a second, exact pass)."""
    with open_delivered(path, zone, "CSV") as binary:
        source = Blocks(binary, path)
        source.readline(MAX_HEADER_BYTES)  # the header, checked by the first pass
        for line, fields, text in records(path, manifest, source.blocks(), 2):
            if line in starts:
                yield line, fields, text
