"""The landing zone layout and manifests of feeds.md."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from laiou_assets.contract import ENCODINGS, FEEDS

_PERIOD = re.compile(r"^\d{4}(0[1-9]|1[0-2])$")


class FileFault(Exception):
    """A file-level fault (feeds.md, Bad input): the month's load fails and earlier data stays."""


class Waiting(Exception):
    """No manifest yet: the delivery is incomplete (the producer writes it last). Not a failure: wait."""


@dataclass(frozen=True)
class Delivery:
    feed: str
    period: str  # YYYYMM

    @property
    def period_date(self) -> date:
        return date(int(self.period[:4]), int(self.period[4:]), 1)

    @property
    def partition_key(self) -> str:
        return self.period_date.isoformat()

    def csv_path(self, landing: Path) -> Path:
        return landing / self.feed / self.period / f"{self.feed}_{self.period}.csv"

    def manifest_path(self, landing: Path) -> Path:
        return landing / self.feed / self.period / f"{self.feed}_{self.period}.manifest.json"


def period_of_partition(partition_key: str) -> str:
    """Dagster monthly partition `YYYY-MM-01` → delivery month `YYYYMM`."""
    return partition_key[:4] + partition_key[5:7]


@dataclass(frozen=True)
class Manifest:
    feed: str
    period: str
    codec: str  # Python codec for the declared encoding
    encoding: str
    rows: int
    sha256: str
    control_total: Decimal
    raw: dict


def read_manifest(delivery: Delivery, landing: Path) -> Manifest:
    path = delivery.manifest_path(landing)
    if not path.exists():
        raise Waiting(f"{path}: no manifest yet; the delivery is incomplete, waiting")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        raise FileFault(f"{where}: manifest unreadable ({exc})") from exc
    if not isinstance(doc, dict):
        raise FileFault(f"{path}: manifest unreadable (not a JSON object)")
    feed = FEEDS[delivery.feed]

    def need(key: str):
        if key not in doc:
            raise FileFault(f"{path}: manifest unreadable (field '{key}' missing)")
        return doc[key]

    if need("feed") != delivery.feed or need("period") != delivery.period:
        raise FileFault(
            f"{path}: manifest is for feed {doc['feed']!r} period {doc['period']!r}, "
            f"but lies at {delivery.feed}/{delivery.period}"
        )
    encoding = str(need("encoding")).upper()
    if encoding not in ENCODINGS:
        raise FileFault(f"{path}: manifest unreadable (encoding {doc['encoding']!r} is not UTF-8 or GB18030)")
    rows = need("rows")
    if not isinstance(rows, int) or rows < 0:
        raise FileFault(f"{path}: manifest unreadable (rows {rows!r} is not a count)")
    sha = str(need("sha256")).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise FileFault(f"{path}: manifest unreadable (sha256 {doc['sha256']!r} is not a hex digest)")
    totals = need("control_totals")
    if not isinstance(totals, dict) or feed.control_column not in totals:
        raise FileFault(f"{path}: manifest unreadable (control_totals.{feed.control_column} missing)")
    try:
        control = Decimal(str(totals[feed.control_column]))
    except InvalidOperation as exc:
        raise FileFault(f"{path}: manifest unreadable (control total {totals[feed.control_column]!r})") from exc
    return Manifest(delivery.feed, delivery.period, ENCODINGS[encoding], encoding, rows, sha, control, doc)


def delivered(landing: Path, feeds: list[str] | None = None) -> list[Delivery]:
    """Every complete delivery (manifest present) in the landing zone, sorted by period then feed."""
    found = []
    for feed in feeds or list(FEEDS):
        for month_dir in sorted((landing / feed).glob("[0-9]" * 6)):
            d = Delivery(feed, month_dir.name)
            if _PERIOD.match(d.period) and d.manifest_path(landing).exists():
                found.append(d)
    return sorted(found, key=lambda d: (d.period, list(FEEDS).index(d.feed)))
