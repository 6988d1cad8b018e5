"""巡检 of how a feed month arrived: by its due day, in the contract's columns and types (feeds.md); the
thresholds every feed check reads."""

import math
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from laiou_assets import settings
from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import Delivery, FileFault, Waiting, period_of_partition, read_manifest
from laiou_assets.ingest.reading import header_of
from ops_checks.runbook import Finding

SAMPLE = 10


@dataclass(frozen=True)
class Thresholds:
    due_day: int = 20  # a month's delivery is due by this day of the following month (Shanghai time)
    volume_low: float = 0.5  # rows below this share of the usual volume are an anomaly …
    volume_high: float = 2.0  # … and above this multiple
    drift_p: float = 0.001  # shares differ from the previous months' beyond chance (chi-square) …
    drift_tvd: float = 0.10  # … and by at least this total variation distance
    unknown_share: float = 0.01  # records naming enterprises the feeds do not know

    due_day_by_feed: dict[str, int] = field(default_factory=dict)  # a bureau's own due day

    @classmethod
    def from_env(cls) -> "Thresholds":
        """LAIOU_DUE_DAY (and LAIOU_DUE_DAY_<FEED>), LAIOU_VOLUME_LOW, LAIOU_VOLUME_HIGH, LAIOU_DRIFT_P,
        LAIOU_DRIFT_TVD, LAIOU_UNKNOWN_SHARE, through the settings object."""
        current = settings.current()
        return cls(**{f.name: getattr(current, f.name) for f in fields(cls)})

    def due_day_of(self, feed: str) -> int:
        return self.due_day_by_feed.get(feed, self.due_day)


SHANGHAI = ZoneInfo("Asia/Shanghai")


def due_at(partition_key: str, day: int) -> datetime:
    """End of the due day of the month after the delivery month, Shanghai time."""
    year, month = int(partition_key[:4]), int(partition_key[5:7])
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return datetime(nxt.year, nxt.month, min(day, 28), 23, 59, 59, tzinfo=SHANGHAI)


def delivered_on_time(landing: Path, feed: str, partition_key: str, t: Thresholds, now: datetime) -> Finding:
    """The manifest's produced_at (the bureau's stamp) is on or before the due day; no manifest after the due
    day is a missing delivery. The exchange records no arrival time of its own (feeds.md)."""
    due = due_at(partition_key, t.due_day_of(feed))
    facts = {"month": partition_key[:7], "due_by": due.isoformat()}
    try:
        manifest = read_manifest(Delivery(feed, period_of_partition(partition_key)), landing)
    except Waiting:
        if now <= due:
            return Finding(True, {**facts, "observed": "not delivered yet, not due yet"})
        return Finding(False, {**facts, "observed": "not delivered", "problem": f"missing since {due:%Y-%m-%d}"})
    except FileFault as fault:
        return Finding(False, {**facts, "observed": "manifest unreadable", "problem": str(fault)})
    try:
        produced = datetime.fromisoformat(str(manifest.raw.get("produced_at")))
    except ValueError:
        return Finding(False, {**facts, "problem": f"produced_at {manifest.raw.get('produced_at')!r} is not a time"})
    if produced.tzinfo is None:
        produced = produced.replace(tzinfo=SHANGHAI)
    late_days = (produced - due).total_seconds() / 86400
    facts.update({"produced_at": produced.isoformat(), "days_late": round(max(late_days, 0), 1)})
    if late_days > 0:
        return Finding(False, {**facts, "problem": f"delivered {math.ceil(late_days)} day(s) after the due day"})
    return Finding(True, facts)


COLUMNS_SQL = """
select a.attname, format_type(a.atttypid, a.atttypmod)
from pg_attribute a
where a.attrelid = to_regclass(%(table)s) and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""


def schema_as_contract(conn, landing: Path, feed: str, partition_key: str) -> Finding:
    """raw.<feed> has the contract's columns and types (plus _period, _line, _loaded_at), and the month's
    delivered header has exactly the contract's columns (feeds.md)."""
    spec = FEEDS[feed]
    expected = {c.name: c.sql_type for c in spec.columns} | {
        "_period": "date",
        "_line": "integer",
        "_loaded_at": "timestamp with time zone",
    }
    actual = dict(conn.execute(COLUMNS_SQL, {"table": f"raw.{feed}"}).fetchall())
    problems = []
    if not actual:
        problems.append(f"raw.{feed} does not exist")
    else:
        problems += [f"raw.{feed}.{c} missing" for c in expected if c not in actual]
        problems += [f"raw.{feed}.{c} is not in the contract" for c in actual if c not in expected]
        problems += [
            f"raw.{feed}.{c} is {actual[c]}, the contract says {expected[c]}"
            for c in expected
            if c in actual and actual[c] != expected[c]
        ]
    facts = {"month": partition_key[:7], "table_columns": len(actual), "contract_columns": len(expected)}
    delivery = Delivery(feed, period_of_partition(partition_key))
    try:
        header_of(delivery.csv_path(landing), read_manifest(delivery, landing), spec)
        facts["delivered_header"] = "as the contract says"
    except Waiting:
        facts["delivered_header"] = "nothing delivered"
    except (FileFault, FileNotFoundError) as fault:
        facts["delivered_header"] = "faulty"
        problems.append(str(fault))
    return Finding(not problems, {**facts, "problem": "; ".join(problems) or None})
