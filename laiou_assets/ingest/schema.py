"""DDL of the platform-owned schemas `raw` and `audit` (warehouse.md). Idempotent; safe to run concurrently."""

from __future__ import annotations

from datetime import date

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
) partition by range (_period);
comment on table raw.{feed.name} is '{feed.label} — loaded rows of the {feed.name} feed (feeds.md), one partition
per delivery month';
"""


def ensure_partition(conn: psycopg.Connection, feed_name: str, period: date) -> str:
    """The month's partition of raw.<feed> (created, empty, in its own short transaction if new).

    A month lives in its own partition so that a redelivery replaces it with TRUNCATE + COPY, and COPY
    writes no index. Creating a partition locks the whole table, so it is not done inside a long load.
    """
    name = f"raw.{feed_name}_{period:%Y%m}"
    upper = date(period.year + period.month // 12, period.month % 12 + 1, 1)
    with conn.transaction():
        if conn.execute("select to_regclass(%s)", [name]).fetchone()[0] is None:
            conn.execute(
                f"create table {name} partition of raw.{feed_name} "
                f"for values from ('{period.isoformat()}') to ('{upper.isoformat()}')"
            )
            # COPY into the partition leaves out _period: a constant, not a date to parse on every row.
            conn.execute(f"alter table {name} alter column _period set default '{period.isoformat()}'")
    return name


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
  message text,
  manifest_sha256 text,
  failure text check (failure in ('file_fault', 'error', 'died'))
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

create table if not exists audit.load_attempt (
  attempt_id bigserial primary key,
  feed text not null,
  period date not null,
  file text not null,
  manifest_sha256 text,
  started_at timestamptz not null
);
comment on table audit.load_attempt is '装载中 / one row while a load runs, its session holding an advisory lock on '
  'attempt_id; a row nobody holds was left by a killed load, and the next start logs it as failed';
"""
# After _upgrade_load_log: an earlier warehouse gains these columns only then.
_LOAD_LOG_COMMENTS = """
comment on column audit.load_log.manifest_sha256 is 'sha256 of the manifest''s bytes: a delivery is new '
  'when they differ from those of its last attempt';
comment on column audit.load_log.failure is 'why it failed: file_fault (feeds.md, Bad input), error '
  '(interrupted, lost connection, deadlock, a bug) or died (killed; found by the next start)';
"""
AUDIT_DDL = _AUDIT_DDL.replace("{reasons}", ", ".join(f"'{r}'" for r in QUARANTINE_REASONS))


def ensure_schemas(conn: psycopg.Connection) -> None:
    with conn.transaction():
        _refuse_unpartitioned(conn)
        conn.execute("select pg_advisory_xact_lock(%s)", [_DDL_LOCK])
        conn.execute("create schema if not exists raw")
        conn.execute("create schema if not exists audit")
        conn.execute(AUDIT_DDL)
        _upgrade_load_log(conn)
        conn.execute(_LOAD_LOG_COMMENTS)
        for name in FEEDS:
            conn.execute(raw_table_ddl(name))


# Columns added since the first release: a warehouse made by an earlier laiou gains them on its next load.
_LOAD_LOG_ADDED = {
    "manifest_sha256": "text",
    "failure": "text check (failure in ('file_fault', 'error', 'died'))",
}


def _upgrade_load_log(conn: psycopg.Connection) -> None:
    """Bring an existing audit.load_log up to date. Only what is missing is altered: ALTER TABLE locks the
    table against every reader, even when `if not exists` finds nothing to do."""
    have = {
        name
        for (name,) in conn.execute(
            "select attname from pg_attribute where attrelid = 'audit.load_log'::regclass and not attisdropped"
        )
    }
    for column, ddl in _LOAD_LOG_ADDED.items():
        if column not in have:
            conn.execute(f"alter table audit.load_log add column if not exists {column} {ddl}")


def _refuse_unpartitioned(conn: psycopg.Connection) -> None:
    old = conn.execute(
        """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'raw' and c.relkind = 'r' and c.relname = any(%s)""",
        [list(FEEDS)],
    ).fetchall()
    if old:
        raise RuntimeError(
            f"raw.{old[0][0]} was made by an earlier laiou without monthly partitions; this database cannot be "
            "loaded any more. Start from an empty database (embedded: `make clean`, then `make demo`)."
        )
