"""raw and audit as laiou made them before migrations: the monthly-partitioned raw tables (feeds.md), the
load log, quarantine and load attempts, incidents, backups (with their checksums), inspection reports and
usage snapshots (warehouse.md).

Every statement is conditional, so a warehouse made by an earlier laiou upgrades in place and keeps its
rows: missing tables and columns are added, and raw tables of the first releases (one table per feed, not
partitioned) are turned into monthly partitions with their rows.

Revision ID: 0001
Revises:
"""

from alembic import op

from laiou_assets.contract import FEEDS, QUARANTINE_REASONS

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _raw_table(feed_name: str) -> str:
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


AUDIT_DDL = """
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

# Columns added to audit.load_log since the first release.
LOAD_LOG_ADDED = """
alter table audit.load_log add column if not exists manifest_sha256 text;
alter table audit.load_log add column if not exists failure text check (failure in ('file_fault', 'error', 'died'));
"""
_LOAD_LOG_COMMENTS = """
comment on column audit.load_log.manifest_sha256 is 'sha256 of the manifest''s bytes: a delivery is new '
  'when they differ from those of its last attempt';
comment on column audit.load_log.failure is 'why it failed: file_fault (feeds.md, Bad input), error '
  '(interrupted, lost connection, deadlock, a bug) or died (killed; found by the next start)';
"""

OPS_DDL = """
create schema if not exists audit;

create table if not exists audit.incident (
  incident_id bigserial primary key,
  kind text not null check (kind in ('check', 'run')),
  subject text not null,            -- the check (asset:check) or the job
  partition_key text not null default '',
  severity text not null,
  opened_at timestamptz not null,
  opened_by_run text,
  message text,
  runbook text,
  notified_via text,
  resolved_at timestamptz,
  resolved_by_run text
);
create unique index if not exists incident_one_open_idx
  on audit.incident (kind, subject, partition_key) where resolved_at is null;
comment on table audit.incident is
  '事件 / one row per failed check or run, open until it passes again (docs/runbook.md)';

create table if not exists audit.incident_cursor (
  one boolean primary key default true check (one),
  checks bigint not null default 0, -- the last check evaluation turned into incidents (Dagster storage id)
  runs bigint not null default 0    -- the last run outcome
);
insert into audit.incident_cursor default values on conflict do nothing;

create table if not exists audit.backup (
  backup_id bigserial primary key,
  started_at timestamptz not null,
  finished_at timestamptz,
  path text not null,
  bytes bigint,
  table_rows jsonb,                 -- rows of every table in the dump's snapshot
  outcome text not null check (outcome in ('ok', 'failed')),
  message text,
  removed_at timestamptz,           -- retention deleted the file
  restore_checked_at timestamptz,
  restore_outcome text check (restore_outcome in ('equal', 'different', 'failed')),
  restore_message text
);
comment on table audit.backup is '备份 / pg_dump backups of the warehouse and their restore checks';

create table if not exists audit.inspection_report (
  month date primary key,           -- the report's partition: the month inspected
  generated_at timestamptz not null,
  figures jsonb not null,           -- what the annual summary adds up
  markdown_path text not null,
  html_path text not null
);
comment on table audit.inspection_report is
  '月度巡检报告 / the monthly inspection reports (ops_checks/inspection_report.py)';
"""

BACKUP_ADDED = """
alter table audit.backup add column if not exists sha256 text;
alter table audit.backup add column if not exists table_checksums jsonb;
alter table audit.backup add column if not exists file_checked_at timestamptz;
alter table audit.backup add column if not exists file_outcome text;
"""

USAGE_DDL = """
create table if not exists audit.usage_snapshot (
  taken_at timestamptz not null default now(),
  role text not null,
  statements bigint not null,
  primary key (taken_at, role)
);
comment on table audit.usage_snapshot is '使用量快照 / cumulative statements of each reading role (pg_stat_statements)';
create or replace view audit.mart_usage_monthly as
with ordered as (
  select date_trunc('month', taken_at)::date as month, role, taken_at, statements,
         lag(statements) over (partition by role order by taken_at) as before
  from audit.usage_snapshot
)
select month, role,
       sum(case when before is null or statements < before then statements else statements - before end)::bigint
         as statements
from ordered
group by month, role;
comment on view audit.mart_usage_monthly is '月度使用量 / statements on the marts per reading role and month';
"""

# The first releases kept each feed in one plain table: set it aside, and move its rows into the monthly
# partitions of the new table (created below), one partition per delivered month.
SET_ASIDE_UNPARTITIONED = """
do $$
declare feed text;
begin
  foreach feed in array array[{feeds}] loop
    if exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'raw' and c.relname = feed and c.relkind = 'r') then
      execute format('alter table raw.%I rename to %I', feed, feed || '_unpartitioned');
    end if;
  end loop;
end $$;
"""
MOVE_INTO_PARTITIONS = """
do $$
declare feed text; month date; part text; columns text;
begin
  foreach feed in array array[{feeds}] loop
    if to_regclass(format('raw.%I', feed || '_unpartitioned')) is null then
      continue;
    end if;
    for month in execute format('select distinct _period from raw.%I order by 1', feed || '_unpartitioned') loop
      part := feed || '_' || to_char(month, 'YYYYMM');
      execute format('create table raw.%I partition of raw.%I for values from (%L) to (%L)',
                     part, feed, month, (month + interval '1 month')::date);
      execute format('alter table raw.%I alter column _period set default %L', part, month);
    end loop;
    select string_agg(quote_ident(attname), ', ' order by attnum) into columns
      from pg_attribute where attrelid = format('raw.%I', feed)::regclass and attnum > 0 and not attisdropped;
    execute format('insert into raw.%I (%s) select %s from raw.%I', feed, columns, columns, feed || '_unpartitioned');
    execute format('drop table raw.%I', feed || '_unpartitioned');
  end loop;
end $$;
"""


def upgrade() -> None:
    feeds = ", ".join(f"'{name}'" for name in FEEDS)
    op.execute("create schema if not exists raw")
    op.execute("create schema if not exists audit")
    op.execute(AUDIT_DDL.replace("{reasons}", ", ".join(f"'{r}'" for r in QUARANTINE_REASONS)))
    op.execute(LOAD_LOG_ADDED)
    op.execute(_LOAD_LOG_COMMENTS)
    op.execute(SET_ASIDE_UNPARTITIONED.replace("{feeds}", feeds))
    for name in FEEDS:
        op.execute(_raw_table(name))
    op.execute(MOVE_INTO_PARTITIONS.replace("{feeds}", feeds))
    op.execute(OPS_DDL)
    op.execute(BACKUP_ADDED)
    op.execute(USAGE_DDL)
