"""Writing one delivery exactly as feeds.md specifies: the CSV first, then its manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import Delivery


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


def write_delivery(
    out: Path, feed: str, period: str, frame: pd.DataFrame, control_cents: np.ndarray, source: str
) -> Path:
    """Write <feed>/<YYYYMM>/<feed>_<YYYYMM>.csv then its manifest; returns the CSV path."""
    delivery = Delivery(feed, period)
    csv_path = delivery.csv_path(out)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    data = frame[list(FEEDS[feed].column_names)].to_csv(index=False, lineterminator="\n").encode("utf-8")
    csv_path.write_bytes(data)
    year, month = int(period[:4]), int(period[4:])
    produced = f"{year + month // 12}-{month % 12 + 1:02d}-05T08:00:00+08:00"
    manifest = {
        "feed": feed,
        "period": period,
        "encoding": "UTF-8",
        "rows": len(frame),
        "sha256": hashlib.sha256(data).hexdigest(),
        "control_totals": {FEEDS[feed].control_column: cents_total(control_cents)},
        "produced_at": produced,
        "source": source,
    }
    manifest_path = delivery.manifest_path(out)
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return csv_path
