"""Writing one delivery exactly as feeds.md specifies: the CSV first, then its manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import Delivery

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class FileFormat:
    """How a bureau's exchange wrote one file (feeds.md: UTF-8 with or without BOM, or GB18030; LF or CRLF)."""

    encoding: str = "UTF-8"  # or GB18030
    bom: bool = False  # UTF-8 only
    crlf: bool = False

    def describe(self) -> dict:
        return {"encoding": self.encoding, "bom": self.bom, "line_end": "CRLF" if self.crlf else "LF"}


def zfill(values: np.ndarray, width: int) -> np.ndarray:
    """np.char.zfill that also takes an empty array (numpy's fails on one)."""
    values = np.asarray(values).astype(str)
    return np.char.zfill(values, width) if values.size else values


def money(cents: np.ndarray) -> np.ndarray:
    """Integer cents → decimal strings with two places ('-12.05')."""
    cents = np.asarray(cents, dtype=np.int64)
    whole = (np.abs(cents) // 100).astype(str)
    frac = zfill(np.abs(cents) % 100, 2)
    sign = np.where(cents < 0, "-", "")
    return np.char.add(np.char.add(np.char.add(sign, whole), "."), frac)


def cents_total(cents: np.ndarray) -> str:
    total = int(np.asarray(cents, dtype=np.int64).sum())
    sign = "-" if total < 0 else ""
    return f"{sign}{abs(total) // 100}.{abs(total) % 100:02d}"


def dates(days: np.ndarray) -> np.ndarray:
    """numpy datetime64[D] → 'YYYY-MM-DD' (NaT → '')."""
    out = np.datetime_as_string(np.asarray(days, dtype="datetime64[D]"), unit="D")
    return np.where(out == "NaT", "", out)


def csv_bytes(frame: pd.DataFrame, columns: list[str], fmt: FileFormat, replace: dict[str, str] | None = None) -> bytes:
    """The file's bytes: header and records in `fmt`; `replace` rewrites marker text after quoting."""
    text = frame[columns].to_csv(index=False, lineterminator="\r\n" if fmt.crlf else "\n")
    for marker, value in (replace or {}).items():
        text = text.replace(marker, value)
    data = text.encode("gb18030" if fmt.encoding == "GB18030" else "utf-8")
    return BOM + data if fmt.bom else data


def write_delivery(
    out: Path,
    feed: str,
    period: str,
    frame: pd.DataFrame,
    control_cents: np.ndarray,
    source: str,
    fmt: FileFormat = FileFormat(),
    produced_day: int = 5,
    columns: list[str] | None = None,
    replace: dict[str, str] | None = None,
) -> Path:
    """Write <feed>/<YYYYMM>/<feed>_<YYYYMM>.csv then its manifest; returns the CSV path.

    `columns` (default: the contract's) and `replace` exist for fault injection (faults.py).
    """
    delivery = Delivery(feed, period)
    csv_path = delivery.csv_path(out)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    data = csv_bytes(frame, columns or list(FEEDS[feed].column_names), fmt, replace)
    csv_path.write_bytes(data)
    year, month = int(period[:4]), int(period[4:])
    produced = f"{year + month // 12}-{month % 12 + 1:02d}-{produced_day:02d}T08:00:00+08:00"
    manifest = {
        "feed": feed,
        "period": period,
        "encoding": fmt.encoding,
        "rows": len(frame),
        "sha256": hashlib.sha256(data).hexdigest(),
        "control_totals": {FEEDS[feed].control_column: cents_total(control_cents)},
        "produced_at": produced,
        "source": source,
    }
    manifest_path = delivery.manifest_path(out)
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return csv_path
