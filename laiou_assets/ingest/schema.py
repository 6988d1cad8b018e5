"""DDL of the platform-owned schemas `raw` and `audit` (warehouse.md). Idempotent; safe to run concurrently."""

from __future__ import annotations

import psycopg

from laiou_assets.contract import FEEDS, QUARANTINE_REASONS

_DDL_LOCK = 31_0000  # advisory lock id: concurrent CREATE ... IF NOT EXISTS can still collide


def raw_table_ddl(feed_name: str) -> str:
    feed = FEEDS[feed_name]
    cols = ",\n  ".join(f"{c.name} {c.sql_type}" for c in feed.columns)
    return f"""
create table if not exists raw.{feed.name} (
  {cols},
  _period date not null,
  _line integer not null,
  _loaded_at timestamptz not null default now()
);
create index if not exists {feed.name}__period_idx on raw.{feed.name} (_period);
comment on table raw.{feed.name} is '{feed.label} — loaded rows of the {feed.name} feed (feeds.md)';
"""


_AUDIT_DDL = """
create table if not exists audit.load_log (
  load_id bigserial primary key,
  feed text not null,
  period date not null,
  file text not null,
  sha256 text,
  rows bigint,
  loaded bigint,
  quarantined bigint,
  control_column text,
  control_total_expected numeric(20,2),
  control_total_loaded numeric(20,2),
  control_total_quarantined numeric(20,2),
  started_at timestamptz not null,
  finished_at timestamptz not null default now(),
  outcome text not null check (outcome in ('loaded', 'failed')),
  message text
);
create index if not exists load_log_feed_period_idx on audit.load_log (feed, period, load_id desc);
comment on table audit.load_log is '装载日志 / one row per attempt to load a feed month (warehouse.md)';

create table if not exists audit.quarantine (
  load_id bigint not null,
  feed text not null,
  period date not null,
  line_no integer not null,
  raw_line text not null,
  reason text not null check (reason in ({reasons})),
  detail text
);
create index if not exists quarantine_feed_period_idx on audit.quarantine (feed, period);
comment on table audit.quarantine is '隔离行 / rows set aside with a reason code (feeds.md, Bad input)';
"""
AUDIT_DDL = _AUDIT_DDL.replace("{reasons}", ", ".join(f"'{r}'" for r in QUARANTINE_REASONS))


def ensure_schemas(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [_DDL_LOCK])
        conn.execute("create schema if not exists raw")
        conn.execute("create schema if not exists audit")
        conn.execute(AUDIT_DDL)
        for name in FEEDS:
            conn.execute(raw_table_ddl(name))
