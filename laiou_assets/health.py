"""What needs a person (运行状况): months whose latest delivery failed to load, open incidents, marts older
than the last load. One reading shared by `laiou status`, `laiou run` and the build's gate, from the
warehouse's own audit tables, so every process (CLI, daemon, UI) sees the same state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg


@dataclass(frozen=True)
class FailedDelivery:
    feed: str
    period: date
    failed_at: datetime
    message: str

    def __str__(self) -> str:
        return f"{self.feed} {self.period:%Y-%m}: {self.message}"


def table_exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", [table]).fetchone()[0]


def failed_deliveries(conn: psycopg.Connection) -> list[FailedDelivery]:
    """Feed months whose latest load attempt failed: they stay failed until a good delivery replaces them
    (the month keeps its earlier rows, or none), and the marts are not rebuilt over the hole."""
    if not table_exists(conn, "audit.load_log"):
        return []
    rows = conn.execute(
        """select feed, period, started_at, coalesce(message, '')
           from (select distinct on (feed, period) * from audit.load_log
                 order by feed, period, load_id desc) latest
           where outcome = 'failed'
           order by period, feed"""
    ).fetchall()
    return [FailedDelivery(*row) for row in rows]


def last_loads(conn: psycopg.Connection) -> list[tuple]:
    """Per feed: the latest attempt at its newest month (month, outcome, finished, rows loaded, rows
    quarantined). Not the latest attempt of all: an older month's failed redelivery would hide the newest
    month loaded (that failure is among the failed months)."""
    if not table_exists(conn, "audit.load_log"):
        return []
    return conn.execute(
        """select distinct on (feed) feed, period, outcome, finished_at, loaded, quarantined
           from audit.load_log order by feed, period desc, load_id desc"""
    ).fetchall()


def last_good_load_at(conn: psycopg.Connection) -> datetime | None:
    if not table_exists(conn, "audit.load_log"):
        return None
    return conn.execute("select max(finished_at) from audit.load_log where outcome = 'loaded'").fetchone()[0]


def open_incidents(conn: psycopg.Connection) -> list[tuple[str, str, str, str, datetime]]:
    """(severity, subject, month, message, opened) of every open incident, ERROR first."""
    if not table_exists(conn, "audit.incident"):
        return []
    return conn.execute(
        """select severity, subject, partition_key, coalesce(message, ''), opened_at from audit.incident
           where resolved_at is null order by severity = 'ERROR' desc, opened_at"""
    ).fetchall()
