"""Each delivery written in its bureau's format (writer.py), with corrections and the injected faults
(faults.py) recorded in the sidecar a test reads; the progress shown while the zone is written."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from laiou_assets.contract import FEEDS
from laiou_assets.generate.faults import LATE_DAY, FaultPlan, apply_anomaly, break_file, columns_for, inject_row_faults
from laiou_assets.generate.weights import (
    CORRECTED_SHARE,
)
from laiou_assets.generate.writer import FileFormat, money, write_delivery
from laiou_assets.ingest.landing import Delivery

FEED_SOURCES = {
    "saic_enterprise": "上海市市场监督管理局",
    "saic_shareholder": "上海市市场监督管理局",
    "tax_payment": "国家税务总局上海市税务局",
    "stats_indicator": "上海市统计局",
}


class Progress:
    """A progress bar on stderr when it is a terminal, else a line every tenth of the way."""

    def __init__(self, say: Callable[[str], None], total: int):
        self.say, self.total, self.done, self.shown = say, total, 0, -1
        self.tty = sys.stderr.isatty()

    def step(self, what: str) -> None:
        self.done += 1
        tenth = self.done * 10 // self.total
        if self.tty:
            filled = self.done * 30 // self.total
            sys.stderr.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {what}   ")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif tenth != self.shown:
            self.shown = tenth
            self.say(f"  {self.done * 100 // self.total:3d}% {self.done}/{self.total} months, {what}")


class Deliveries:
    """Writes each delivery in its bureau's format; corrections, faults and the sidecar that records them."""

    def __init__(self, out: Path, sidecar: Path, seed: int, faults: FaultPlan):
        self.out, self.sidecar, self.seed, self.faults = out, sidecar, seed, faults
        self.record: dict = {
            "formats": {},
            "corrections": [],
            "row_fault_rates": faults.row_rates,
            "row_faults": [],
            "file_faults": [],
            "anomalies": [],
        }
        self.earlier_vouchers: np.ndarray | None = None  # the last tax month's, for the `repeated` anomaly

    def write(self, feed: str, period: str, frame: pd.DataFrame, correct: bool = False) -> None:
        rng = np.random.default_rng([self.seed, list(FEEDS).index(feed), int(period)])
        fmt = delivery_format(rng, feed)
        where = f"{feed}/{period}"
        self.record["formats"][where] = fmt.describe()
        source = FEED_SOURCES[feed]
        if (correct or rng.random() < CORRECTED_SHARE) and len(frame) > 1:
            first = _first_version(rng, frame, FEEDS[feed].control_column)
            write_delivery(
                self.sidecar / "first_deliveries", feed, period, first, first["_cents"].to_numpy(), source, fmt
            )
            self.record["corrections"].append(
                {"feed": feed, "period": period, "first_rows": len(first), "rows": len(frame)}
            )
            produced_day = 20
        else:
            produced_day = 5
        anomaly = self.faults.anomalies.get((feed, period))
        if anomaly:
            self.record["anomalies"].append({"feed": feed, "period": period, "anomaly": anomaly})
            if anomaly == "missing":
                return
            if anomaly == "late":
                produced_day = LATE_DAY
            else:
                frame = apply_anomaly(anomaly, feed, frame, rng, self.earlier_vouchers)
        if feed == "tax_payment":
            self.earlier_vouchers = frame["voucher_no"].to_numpy()
        replace = None
        cents = frame["_cents"].to_numpy()
        if self.faults.row_rates:
            frame, cents, injected, replace = inject_row_faults(frame, feed, period, self.faults.row_rates, rng)
            self.record["row_faults"] += injected
        file_fault = self.faults.file_faults.get((feed, period))
        if file_fault == "unknown_column":
            frame = frame.assign(remark="")
        csv_path = write_delivery(
            self.out, feed, period, frame, cents, source, fmt, produced_day, columns_for(file_fault, feed), replace
        )
        if file_fault:
            done = {"feed": feed, "period": period, "fault": file_fault}
            if file_fault not in ("missing_column", "unknown_column"):
                done.update(break_file(file_fault, csv_path, Delivery(feed, period).manifest_path(self.out)))
            self.record["file_faults"].append(done)

    def save(self) -> Path:
        self.sidecar.mkdir(parents=True, exist_ok=True)
        path = self.sidecar / "generated.json"
        path.write_text(json.dumps(self.record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path


def delivery_format(rng, feed: str) -> FileFormat:
    """Each bureau's exchange: tax in UTF-8 with LF; market regulation in GB18030 (30 %) or UTF-8 with BOM
    (20 %) or without, LF or CRLF; statistics in GB18030 (30 %) or UTF-8, always CRLF."""
    if feed == "tax_payment":
        return FileFormat()
    u, crlf = rng.random(), rng.random() < 0.5 or feed == "stats_indicator"
    if u < 0.3:
        return FileFormat("GB18030", crlf=crlf)
    return FileFormat(bom=u < 0.5 and feed != "stats_indicator", crlf=crlf)


def _first_version(rng, frame: pd.DataFrame, control: str) -> pd.DataFrame:
    """What a corrected month first looked like: 1 % of its records missing, 1 % with another amount."""
    keep = rng.random(len(frame)) >= 0.01
    keep[rng.integers(0, len(frame))] = False  # at least one record missing
    first = frame[keep].copy()
    changed = rng.random(len(first)) < 0.01
    first.loc[changed, "_cents"] += 100
    first.loc[changed, control] = money(first.loc[changed, "_cents"].to_numpy())
    return first
