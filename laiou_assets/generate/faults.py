"""Fault injection for tests: every row-level and file-level fault of feeds.md ("Bad input"), on request.

Row faults replace the content of exactly round(rate × rows) distinct records of a delivery per reason;
file faults break one delivery. Everything injected is returned for the sidecar file (`generate`), which
lives outside the landing zone, so a test can compare the loader's quarantine and failures with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from laiou_assets import codes
from laiou_assets.contract import FEEDS, QUARANTINE_REASONS, Kind

# The column each row fault is put into, per feed; `stats_indicator` has no coded column (no unknown_code).
FAULT_COLUMNS = {
    "missing_field": {
        "saic_enterprise": "name",
        "saic_shareholder": "investor_name",
        "tax_payment": "paid_date",
        "stats_indicator": "employees",
    },
    "bad_date": {
        "saic_enterprise": "reg_date",
        "saic_shareholder": "invest_date",
        "tax_payment": "paid_date",
        "stats_indicator": "period",
    },
    "bad_number": {name: feed.control_column for name, feed in FEEDS.items()},
    "invalid_uscc": {
        "saic_enterprise": "uscc",
        "saic_shareholder": "uscc",
        "tax_payment": "taxpayer_id",
        "stats_indicator": "uscc",
    },
    "unknown_code": {
        "saic_enterprise": "district_code",
        "saic_shareholder": "investor_country",
        "tax_payment": "tax_type",
    },
}
BAD_VALUES = {
    "missing_field": "",
    "bad_date": "2018-02-30",
    "bad_month": "201813",
    "bad_number": "1,234.50",  # a thousands separator (feeds.md: none)
    "district_code": "310199",
    "investor_country": "QZZ",
    "tax_type": "99999",
}
FIELD_COUNT_MARK = "~EXTRA-FIELD~"  # replaced by ",extra" once the CSV is quoted: one field too many
FILE_FAULTS = (
    "manifest_missing",
    "manifest_unreadable",
    "csv_missing",
    "sha256_mismatch",
    "missing_column",
    "unknown_column",
    "undecodable",
    "row_count",
    "control_total",
)


# Anomalies: deliveries that load cleanly but that the inspection layer (ops_checks/feeds.py) must flag.
ANOMALIES = {
    "late": "produced on the 28th of the following month, after the due day",
    "missing": "not delivered at all (neither CSV nor manifest)",
    "short": "only 30 % of its records",
    "skewed": "half of its records moved to Chongming (saic_enterprise) or to Xinjiang investors (saic_shareholder)",
    "orphans": "5 % of its records name enterprises the feeds do not know (tax_payment, saic_shareholder, "
    "stats_indicator)",
    "repeated": "1 % of its vouchers carry voucher numbers of the previous tax month (tax_payment)",
}
LATE_DAY = 28
SKEWED_DISTRICT = "310151"  # 崇明区
SKEWED_REGION = "650102"  # 乌鲁木齐市天山区: province 65


@dataclass
class FaultPlan:
    row_rates: dict[str, float] = field(default_factory=dict)  # reason → share of each delivery's records
    file_faults: dict[tuple[str, str], str] = field(default_factory=dict)  # (feed, YYYYMM) → fault
    anomalies: dict[tuple[str, str], str] = field(default_factory=dict)  # (feed, YYYYMM) → anomaly

    def outside(self, first_period: str, last_period: str) -> list[str]:
        """The file faults and anomalies whose month (YYYYMM) the zone from first to last does not hold."""
        return [
            f"{what}={feed}/{month[:4]}-{month[4:]}"
            for plan in (self.file_faults, self.anomalies)
            for (feed, month), what in plan.items()
            if not first_period <= month <= last_period
        ]

    @classmethod
    def parse(cls, row_faults: list[str], file_faults: list[str], anomalies: list[str] = ()) -> FaultPlan:
        """From the CLI: `REASON=RATE` (or `all=RATE`), `FAULT=FEED/YYYY-MM` and `ANOMALY=FEED/YYYY-MM`."""
        plan = cls()
        for item in anomalies:
            kind, feed, month = _where(item)
            if kind not in ANOMALIES or feed not in FEEDS or not month:
                raise ValueError(
                    f"--anomaly {item}: give KIND=FEED/YYYY-MM with KIND one of {', '.join(ANOMALIES)} "
                    f"and FEED one of {', '.join(FEEDS)}"
                )
            plan.anomalies[(feed, month)] = kind
        for item in row_faults:
            reason, _, rate = item.partition("=")
            reasons = QUARANTINE_REASONS if reason == "all" else (reason,)
            if reason != "all" and reason not in QUARANTINE_REASONS:
                raise ValueError(f"--row-fault {item}: the reasons are {', '.join(QUARANTINE_REASONS)} or all")
            try:
                value = float(rate)
            except ValueError:
                value = -1.0
            if not 0 <= value <= 0.1:
                raise ValueError(f"--row-fault {item}: give a rate between 0 and 0.1, e.g. {reason}=0.001")
            plan.row_rates.update(dict.fromkeys(reasons, value))
        for item in file_faults:
            fault, feed, month = _where(item)
            if fault not in FILE_FAULTS or feed not in FEEDS or not month:
                raise ValueError(
                    f"--file-fault {item}: give FAULT=FEED/YYYY-MM with FAULT one of {', '.join(FILE_FAULTS)} "
                    f"and FEED one of {', '.join(FEEDS)}"
                )
            plan.file_faults[(feed, month)] = fault
        return plan


def _where(item: str) -> tuple[str, str, str]:
    """`WHAT=FEED/YYYY-MM` → (what, feed, YYYYMM or "" when the month is not YYYY-MM)."""
    what, _, where = item.partition("=")
    feed, _, month = where.partition("/")
    return what, feed, month.replace("-", "") if re.fullmatch(r"\d{4}-\d{2}", month) else ""


def apply_anomaly(kind: str, feed: str, frame: pd.DataFrame, rng, earlier_vouchers: np.ndarray | None) -> pd.DataFrame:
    """The delivery's records changed by an anomaly that keeps the file valid (the manifest is written after)."""
    frame = frame.copy()
    n = len(frame)
    if kind == "short":
        return frame.iloc[: max(1, round(n * 0.3))].reset_index(drop=True)
    if kind == "skewed":
        rows = rng.choice(n, size=n // 2, replace=False)
        if feed == "saic_enterprise":
            frame.iloc[rows, frame.columns.get_loc("district_code")] = SKEWED_DISTRICT
        elif feed == "saic_shareholder":
            frame.iloc[rows, frame.columns.get_loc("investor_country")] = "CHN"
            frame.iloc[rows, frame.columns.get_loc("investor_region_code")] = SKEWED_REGION
        else:
            raise ValueError(f"--anomaly skewed: saic_enterprise or saic_shareholder, not {feed}")
        return frame
    if kind == "orphans":
        column = {"tax_payment": "taxpayer_id", "saic_shareholder": "uscc", "stats_indicator": "uscc"}.get(feed)
        if column is None:
            raise ValueError(f"--anomaly orphans: tax_payment, saic_shareholder or stats_indicator, not {feed}")
        rows = np.sort(rng.choice(n, size=max(1, round(n * 0.05)), replace=False))
        # Valid USCCs whose organisation code no generated enterprise has (theirs come from ids below 10^8).
        frame.iloc[rows, frame.columns.get_loc(column)] = [_uscc(f"91310115Y{i:08d}") for i in range(len(rows))]
        return frame
    if kind == "repeated":
        if feed != "tax_payment" or earlier_vouchers is None or not len(earlier_vouchers):
            raise ValueError("--anomaly repeated: tax_payment, in a month after the first tax month")
        k = min(max(1, round(n * 0.01)), len(earlier_vouchers))
        rows = np.sort(rng.choice(n, size=k, replace=False))
        frame.iloc[rows, frame.columns.get_loc("voucher_no")] = rng.choice(earlier_vouchers, size=k, replace=False)
        return frame
    return frame


def _uscc(first17: str) -> str:
    return first17 + codes.uscc_check_char(first17)


def inject_row_faults(
    frame: pd.DataFrame, feed: str, period: str, rates: dict[str, float], rng
) -> tuple[pd.DataFrame, np.ndarray, list[dict], dict[str, str]]:
    """Put each fault into exactly round(rate × rows) distinct records.

    Returns the frame, the control-column cents of the manifest (rows with too many fields or an
    unparsable control value do not count, feeds.md), what was injected (with the line each record starts
    on) and the text replacements for the writer.
    """
    frame = frame.copy()
    n = len(frame)
    spec = FEEDS[feed]
    free = np.ones(n, dtype=bool)
    chosen: dict[str, np.ndarray] = {}
    for reason in QUARANTINE_REASONS:
        k = round(rates.get(reason, 0) * n)
        if k == 0 or (reason != "field_count" and reason != "duplicate_key" and feed not in FAULT_COLUMNS[reason]):
            continue
        eligible = free.copy()
        if reason == "invalid_uscc":
            eligible &= frame[FAULT_COLUMNS[reason][feed]].str.len().to_numpy() == 18
        if reason == "duplicate_key":  # the first free record stays clean: every target has a clean one before it
            eligible[np.flatnonzero(free)[:1]] = False
        pool = np.flatnonzero(eligible)
        picked = np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False))
        free[picked] = False
        chosen[reason] = picked

    injected = []
    replace = {}
    for reason, rows in chosen.items():
        if reason == "field_count":
            column = spec.column_names[-1]  # a date or an integer: never quoted, so the mark stays outside quotes
            frame.iloc[rows, frame.columns.get_loc(column)] = frame[column].iloc[rows] + FIELD_COUNT_MARK
            replace[FIELD_COUNT_MARK] = ",extra"
        elif reason == "duplicate_key":
            clean = np.flatnonzero(free)
            before = np.searchsorted(clean, rows)  # clean records before each target (≥ 1)
            sources = clean[(rng.random(len(rows)) * before).astype(np.int64)]
            column = "+".join(spec.key)
            for key in spec.key:
                frame.iloc[rows, frame.columns.get_loc(key)] = frame[key].iloc[sources].to_numpy()
        else:
            column = FAULT_COLUMNS[reason][feed]
            frame.iloc[rows, frame.columns.get_loc(column)] = _bad_value(reason, column, frame[column].iloc[rows])
        injected += [
            {"feed": feed, "period": period, "reason": reason, "record": int(r) + 1, "column": column} for r in rows
        ]

    cents = frame["_cents"].to_numpy().copy()
    for reason in ("field_count", "bad_number"):
        cents[chosen.get(reason, [])] = 0
    lines = record_lines(frame[list(spec.column_names)])
    for item in injected:
        item["line"] = int(lines[item["record"] - 1])
    injected.sort(key=lambda item: item["line"])
    return frame, cents, injected, replace


def _bad_value(reason: str, column: str, values: pd.Series) -> np.ndarray | str:
    kind = next(c.kind for spec in FEEDS.values() for c in spec.columns if c.name == column)
    if reason == "invalid_uscc":  # the next character of the alphabet as check character
        alphabet = codes.USCC_ALPHABET
        return values.map(lambda v: v[:17] + alphabet[(alphabet.index(v[17]) + 1) % 31]).to_numpy()
    if reason == "bad_date" and kind is Kind.MONTH:
        return BAD_VALUES["bad_month"]
    return BAD_VALUES.get(reason if reason != "unknown_code" else column, "")


def record_lines(frame: pd.DataFrame) -> np.ndarray:
    """The line each record starts on (the header is line 1; quoted line breaks add lines)."""
    breaks = np.zeros(len(frame), dtype=np.int64)
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]):
            breaks += frame[column].str.count("\n").fillna(0).to_numpy(dtype=np.int64)
    return 2 + np.arange(len(frame)) + np.concatenate([[0], np.cumsum(breaks)[:-1]])


def columns_for(fault: str | None, feed: str) -> list[str]:
    """The header a delivery is written with: the contract's, or one column short / one too many."""
    names = list(FEEDS[feed].column_names)
    if fault == "missing_column":
        return names[:-1]
    if fault == "unknown_column":
        return [*names, "remark"]
    return names


def break_file(fault: str, csv_path: Path, manifest_path: Path) -> dict:
    """Break a written delivery (file-level faults other than the header's); returns what was done."""
    record: dict = {"fault": fault}
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if fault == "manifest_missing":
        manifest_path.unlink()
        return record
    if fault == "manifest_unreadable":
        manifest_path.write_text(manifest_path.read_text(encoding="utf-8")[:40], encoding="utf-8")
        return record
    if fault == "csv_missing":
        csv_path.unlink()
        return record
    if fault == "sha256_mismatch":
        manifest["sha256"] = hashlib.sha256(b"another file").hexdigest()
    elif fault == "row_count":
        manifest["rows"] += 1
    elif fault == "control_total":
        column, total = next(iter(manifest["control_totals"].items()))
        manifest["control_totals"][column] = str(Decimal(total) + Decimal("0.01"))  # one fen more
    elif fault == "undecodable":
        data = csv_path.read_bytes()
        breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
        line = max(2, len(breaks) // 2)
        at = int(breaks[line - 2]) + 2  # the second byte of that line
        csv_path.write_bytes(data[:at] + b"\xff" + data[at:])  # 0xFF starts no character in UTF-8 or GB18030
        manifest["sha256"] = hashlib.sha256(csv_path.read_bytes()).hexdigest()
        record["line"] = line
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return record
