"""The landing zone layout and manifests of feeds.md, read defensively: nothing in the zone is trusted."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

from laiou_assets.contract import ENCODINGS, FEEDS

_PERIOD = re.compile(r"^[0-9]{4}(0[1-9]|1[0-2])$")
MAX_MANIFEST_BYTES = 1 << 20  # a manifest is a few hundred bytes; anything near this is not one
BIGINT_MAX = 2**63 - 1  # audit.load_log.rows
CONTROL_TOTAL_LIMIT = Decimal(10) ** 18  # audit.load_log's numeric(20,2): 18 digits before the point


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


def open_delivered(path: Path, zone: Path | None, what: str = "file") -> BinaryIO:
    """Open a delivered file for reading, refusing what is not a plain file of the landing zone.

    A symbolic link may point elsewhere in the zone, never out of it (its rows would end up in the warehouse
    and its quarantine); devices, pipes and folders are refused before they are opened (reading /dev/zero
    never ends, opening a pipe blocks). The opened file is checked to be the one inspected.
    """
    if zone is not None:
        real, root = path.resolve(), zone.resolve()
        if not real.is_relative_to(root):
            raise FileFault(f"{path}: {what} is a symbolic link to {real}, outside the landing zone {root}: refused")
    try:
        before = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            raise FileFault(f"{path}: {what} is a symbolic link to {path.readlink()}, which does not exist") from None
        raise
    except OSError as exc:
        raise FileFault(f"{path}: {what} cannot be read ({exc.strerror})") from exc
    if not stat.S_ISREG(before.st_mode):
        raise FileFault(f"{path}: {what} is not a regular file ({_kind(before.st_mode)}): refused")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FileFault(f"{path}: {what} cannot be read ({exc.strerror})") from exc
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino) or not stat.S_ISREG(opened.st_mode):
        os.close(fd)
        raise FileFault(f"{path}: {what} was replaced while being opened: refused")
    return os.fdopen(fd, "rb")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISFIFO, "a pipe")):
        if test(mode):
            return name
    return "a device or socket"


def _manifest_bytes(path: Path, zone: Path | None) -> bytes:
    with open_delivered(path, zone, "manifest") as f:
        data = f.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise FileFault(f"{path}: manifest larger than {MAX_MANIFEST_BYTES // 1024} KiB: not a manifest of feeds.md")
    return data


def manifest_identity(delivery: Delivery, landing: Path) -> str:
    """What tells one delivery of a month from another: the sha256 of its manifest's bytes (a correction
    writes a new manifest, whatever its mtime). A manifest that cannot be read safely is identified by the
    fault, so that the failed attempt is not repeated until the file changes."""
    try:
        return hashlib.sha256(_manifest_bytes(delivery.manifest_path(landing), landing)).hexdigest()
    except FileFault as fault:
        return "refused:" + hashlib.sha256(str(fault).encode()).hexdigest()


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
    identity: str = ""  # sha256 of the manifest's bytes (arrivals.py)


def require_manifest(delivery: Delivery, landing: Path) -> None:
    """Waiting unless the manifest is there (a dangling link is there: a fault to report, not a wait)."""
    path = delivery.manifest_path(landing)
    if not path.exists() and not path.is_symlink():
        raise Waiting(f"{path}: no manifest yet; the delivery is incomplete, waiting")


def read_manifest(delivery: Delivery, landing: Path) -> Manifest:
    require_manifest(delivery, landing)
    path = delivery.manifest_path(landing)
    data = _manifest_bytes(path, landing)
    try:
        doc = json.loads(data.decode("utf-8"))
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
    # JSON true is a Python bool, which is an int: a count it is not.
    if isinstance(rows, bool) or not isinstance(rows, int) or not 0 <= rows <= BIGINT_MAX:
        raise FileFault(f"{path}: manifest field rows: {_short(rows)} is not a count from 0 to {BIGINT_MAX:,}")
    sha = str(need("sha256")).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise FileFault(f"{path}: manifest unreadable (sha256 {doc['sha256']!r} is not a hex digest)")
    totals = need("control_totals")
    if not isinstance(totals, dict) or feed.control_column not in totals:
        raise FileFault(f"{path}: manifest unreadable (control_totals.{feed.control_column} missing)")
    control = _control_total(path, f"control_totals.{feed.control_column}", totals[feed.control_column])
    identity = hashlib.sha256(data).hexdigest()
    return Manifest(delivery.feed, delivery.period, ENCODINGS[encoding], encoding, rows, sha, control, doc, identity)


def _control_total(path: Path, field: str, value) -> Decimal:
    """A finite decimal with at most two places that fits audit.load_log's numeric(20,2), or FileFault."""
    fault = FileFault(
        f"{path}: manifest field {field}: {_short(value)} is not a decimal with at most two places "
        f"below {CONTROL_TOTAL_LIMIT:,} in magnitude"
    )
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fault
    try:
        total = Decimal(str(value))
    except InvalidOperation:
        raise fault from None
    # is_finite() first: comparing a signalling NaN raises, and Infinity or 1e400 overflow numeric(20,2).
    if not total.is_finite() or abs(total) >= CONTROL_TOTAL_LIMIT or total != round(total, 2):
        raise fault
    return total


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Scan:
    """The complete deliveries of the landing zone, and one warning line per kind of folder left aside."""

    deliveries: list[Delivery]
    warnings: list[str]


def scan(landing: Path, feeds: list[str] | None = None) -> Scan:
    """Every complete delivery (manifest present) by period then feed; a folder that is not a month of the
    partitions is named in a warning and skipped, so it stops nothing else."""
    from laiou_assets.partitions import monthly_partitions  # Dagster: imported only when scanning

    first = monthly_partitions.get_first_partition_key()[:7].replace("-", "")
    last = monthly_partitions.get_last_partition_key()[:7].replace("-", "")
    found, unnamed, outside = [], [], []
    for feed in feeds or list(FEEDS):
        folder = landing / feed
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            name = entry.name
            if name.startswith("."):  # hidden: a copy tool's temporary, not a delivery
                continue
            if not _PERIOD.match(name) or not entry.is_dir():
                unnamed.append(f"{feed}/{name}")
            elif not first <= name <= last:
                outside.append(f"{feed}/{name}")
            else:
                d = Delivery(feed, name)
                manifest = d.manifest_path(landing)
                if manifest.exists() or manifest.is_symlink():  # a dangling link is a fault to report
                    found.append(d)
    if feeds is None and landing.is_dir():  # a folder no feed of feeds.md is named after (a typo, a stray file)
        strangers = sorted(e.name for e in landing.iterdir() if e.name not in FEEDS and not e.name.startswith("."))
        if strangers:
            unnamed.insert(0, ", ".join(strangers) + f" (not a feed: {', '.join(FEEDS)})")
    warnings = []
    if unnamed:
        warnings.append(
            f"landing zone {landing}: ignored, not a month folder YYYYMM (month 01-12): {', '.join(unnamed)}"
        )
    if outside:
        warnings.append(
            f"landing zone {landing}: ignored, month folder outside the partitions' range "
            f"{first[:4]}-{first[4:]} … {last[:4]}-{last[4:]}: {', '.join(outside)}"
        )
    return Scan(sorted(found, key=lambda d: (d.period, list(FEEDS).index(d.feed))), warnings)


def delivered(landing: Path, feeds: list[str] | None = None) -> list[Delivery]:
    """Every complete delivery (manifest present) in the landing zone, sorted by period then feed."""
    return scan(landing, feeds).deliveries
