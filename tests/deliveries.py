"""Writing hand-made deliveries for tests: CSV bytes as given, and a manifest computed from them here.

The manifest's control total follows feeds.md literally (every record with the header's field count whose
control value is a decimal with at most two places), computed with the csv module, not the loader.
"""

import csv
import hashlib
import io
import json
import re
from decimal import Decimal
from pathlib import Path

from laiou_assets.contract import FEEDS

_DECIMAL = re.compile(r"-?[0-9]{1,16}(\.[0-9]{1,2})?")


def records(text: str) -> list[list[str]]:
    """RFC 4180 records of a CSV text, blank lines dropped, header included."""
    return [r for r in csv.reader(io.StringIO(text, newline="")) if r]


def write(landing: Path, feed: str, period: str, text: str, encoding: str = "UTF-8", bom: bool = False, **override):
    """Write `text` as the delivery's CSV (in `encoding`) and a manifest that matches it unless overridden."""
    folder = landing / feed / period
    folder.mkdir(parents=True, exist_ok=True)
    data = ("\ufeff" if bom else "").encode() + text.encode("gb18030" if encoding == "GB18030" else "utf-8")
    (folder / f"{feed}_{period}.csv").write_bytes(data)
    rows = records(text)
    header, body = rows[0], rows[1:]
    column = FEEDS[feed].control_column
    pos = header.index(column)
    total = sum(Decimal(r[pos]) for r in body if len(r) == len(header) and _DECIMAL.fullmatch(r[pos]))
    manifest = {
        "feed": feed,
        "period": period,
        "encoding": encoding,
        "rows": len(body),
        "sha256": hashlib.sha256(data).hexdigest(),
        "control_totals": {column: f"{total:.2f}"},
        "produced_at": "2019-01-05T08:00:00+08:00",
        "source": "test",
    }
    manifest.update(override)
    (folder / f"{feed}_{period}.manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return folder


def delivered_rows(landing: Path, feed: str, period: str) -> tuple[list[list[str]], str]:
    """A delivered CSV's records (header first) and its manifest's encoding, to be changed and delivered
    again with `rewrite`."""
    folder = landing / feed / period
    encoding = json.loads((folder / f"{feed}_{period}.manifest.json").read_text(encoding="utf-8"))["encoding"]
    text = (folder / f"{feed}_{period}.csv").read_bytes().decode("gb18030" if encoding == "GB18030" else "utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""))), encoding


def rewrite(landing: Path, feed: str, period: str, rows: list[list[str]], encoding: str) -> Path:
    """Deliver `rows` (header first) again as the month's file, in `encoding`, with a manifest that matches."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return write(landing, feed, period, out.getvalue(), encoding=encoding)


def write_bytes(landing: Path, feed: str, period: str, data: bytes, rows: int, control_total: str, **override):
    """Write `data` as the delivery's CSV exactly as given, with a manifest stating `rows` and `control_total`
    (computed by the test itself, for files the csv module reads otherwise than feeds.md, e.g. with a bare CR)."""
    folder = landing / feed / period
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{feed}_{period}.csv").write_bytes(data)
    manifest = {
        "feed": feed,
        "period": period,
        "encoding": "UTF-8",
        "rows": rows,
        "sha256": hashlib.sha256(data).hexdigest(),
        "control_totals": {FEEDS[feed].control_column: control_total},
        "produced_at": "2019-01-05T08:00:00+08:00",
        "source": "test",
        **override,
    }
    (folder / f"{feed}_{period}.manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return folder
