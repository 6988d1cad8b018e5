"""What in the landing zone needs loading: one decision shared by `laiou run` and the arrival sensor.

A delivery is complete when its manifest exists (the producer writes the CSV first, the manifest last).
It needs loading when no load of that feed-month was attempted since its manifest was written: a new
month, or a redelivery (a correction writes a new manifest). A month that was loaded, or that failed and
has not been redelivered since, is left alone, so nothing is requested twice. The state is the warehouse's
own audit.load_log, so it survives restarts and is the same for the sensor, `laiou run` and the UI.
"""

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import Delivery, delivered


def manifest_written(landing: Path, delivery: Delivery) -> datetime:
    return datetime.fromtimestamp(delivery.manifest_path(landing).stat().st_mtime, UTC)


def last_attempts(conn: psycopg.Connection) -> dict[tuple[str, str], datetime]:
    """(feed, YYYYMM) → when its latest load attempt started (none before the first load)."""
    if conn.execute("select to_regclass('audit.load_log')").fetchone()[0] is None:
        return {}
    rows = conn.execute(
        "select feed, to_char(period, 'YYYYMM'), max(started_at) from audit.load_log group by feed, period"
    ).fetchall()
    return {(feed, period): started for feed, period, started in rows}


def pending(landing: Path, conn: psycopg.Connection) -> list[Delivery]:
    """Complete deliveries not attempted since their manifest was written, by month then feed."""
    attempts = last_attempts(conn)
    out = []
    for d in delivered(landing):
        try:
            written = manifest_written(landing, d)
        except FileNotFoundError:  # withdrawn between listing and reading
            continue
        last = attempts.get((d.feed, d.period))
        if last is None or last < written:
            out.append(d)
    return out


def by_month(deliveries: list[Delivery]) -> dict[str, list[str]]:
    """Partition key (`YYYY-MM-01`) → the feeds to load that month, in contract order: one run per month."""
    months: dict[str, list[str]] = defaultdict(list)
    for d in sorted(deliveries, key=lambda d: (d.period, list(FEEDS).index(d.feed))):
        months[d.partition_key].append(d.feed)
    return dict(months)
