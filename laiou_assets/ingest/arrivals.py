"""What in the landing zone needs loading: one decision shared by `laiou run` and the arrival sensor.

A delivery is complete when its manifest exists (the producer writes the CSV first, the manifest last).
It is new when its manifest's bytes differ from those its feed-month's last attempt read (by sha256): a new
month, or a redelivery (a correction writes a new manifest), whatever the files' mtimes say (a copy with
`cp -p` keeps an old one). A month that was loaded, or that failed and has not been redelivered since, is
left alone, so nothing is requested twice; an attempt that failed without judging the delivery (killed,
interrupted, a lost connection: failure `died` or `error`) is tried once more. The state is the warehouse's
own audit.load_log, so it survives restarts and is the same for the sensor, `laiou run` and the UI.
"""

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import Delivery, manifest_identity, scan

RETRIES = 1  # attempts more of the same manifest after one that failed without judging it


@dataclass(frozen=True)
class Attempt:
    manifest: str | None  # sha256 of the manifest it read (None: logged before laiou kept it)
    judged: bool  # it loaded the delivery or found a fault of it (not killed, interrupted, cut off)
    started: datetime


@dataclass(frozen=True)
class Pending:
    deliveries: list[Delivery]
    identities: dict[Delivery, str]  # manifest sha256 of each
    tries: dict[Delivery, int]  # attempts so far with that manifest, one after the other (0 for a new one)
    warnings: list[str]  # folders left aside (landing.scan)


def manifest_written(landing: Path, delivery: Delivery) -> datetime:
    return datetime.fromtimestamp(delivery.manifest_path(landing).lstat().st_mtime, UTC)


def _recent_attempts(conn: psycopg.Connection) -> dict[Delivery, list[Attempt]]:
    """The last few attempts of each feed-month, newest first (enough to count the retries)."""
    if conn.execute("select to_regclass('audit.load_log')").fetchone()[0] is None:
        return {}
    keeps_manifest = conn.execute(
        "select 1 from pg_attribute where attrelid = 'audit.load_log'::regclass and attname = 'failure'"
    ).fetchone()
    # A warehouse of an earlier laiou not loaded since has no manifest digests: only times to compare.
    manifest, judged = "null", "true"
    if keeps_manifest:
        manifest, judged = "manifest_sha256", "coalesce(failure, 'file_fault') = 'file_fault'"
    rows = conn.execute(
        f"""select feed, period, manifest, judged, started_at from (
              select feed, to_char(period, 'YYYYMM') as period, {manifest} as manifest, {judged} as judged,
                     started_at, row_number() over (partition by feed, period order by load_id desc) as age
              from audit.load_log) recent
            where age <= %s order by feed, period, age""",
        [RETRIES + 2],
    ).fetchall()
    out: dict[Delivery, list[Attempt]] = defaultdict(list)
    for feed, period, sha, was_judged, started in rows:
        out[Delivery(feed, period)].append(Attempt(sha, was_judged, started))
    return out


def _since_manifest(attempts: list[Attempt], identity: str) -> int:
    """How many of the latest attempts read this manifest, one after the other."""
    return len(list(itertools.takewhile(lambda a: a.manifest == identity, attempts)))


def pending(landing: Path, conn: psycopg.Connection) -> list[Delivery]:
    """Complete deliveries whose manifest is new, by month then feed."""
    return find_pending(landing, conn).deliveries


def find_pending(landing: Path, conn: psycopg.Connection) -> Pending:
    """The deliveries to load, what identifies their manifests, and the landing zone's warnings."""
    found = scan(landing)
    history = _recent_attempts(conn)
    out, identities, tries = [], {}, {}
    for d in found.deliveries:
        try:
            identity = manifest_identity(d, landing)
            attempts = history.get(d, [])
            if attempts and attempts[0].manifest is None:  # logged before manifests were kept: by time, as then
                new, same = attempts[0].started < manifest_written(landing, d), 0
            else:
                # The attempts since this manifest arrived: none if it differs from the last one read.
                same = _since_manifest(attempts, identity)
                new = not any(a.judged for a in attempts[:same]) and same <= RETRIES
        except FileNotFoundError:  # withdrawn between listing and reading
            continue
        if new:
            out.append(d)
            identities[d], tries[d] = identity, same
    return Pending(out, identities, tries, found.warnings)


def by_month(deliveries: list[Delivery]) -> dict[str, list[str]]:
    """Partition key (`YYYY-MM-01`) → the feeds to load that month, in contract order: one run per month."""
    months: dict[str, list[str]] = defaultdict(list)
    for d in sorted(deliveries, key=lambda d: (d.period, list(FEEDS).index(d.feed))):
        months[d.partition_key].append(d.feed)
    return dict(months)
