"""What the inspection layer keeps in schema `audit` (warehouse.md): incidents, backups, inspection reports."""

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


def ensure_ops_tables(conn) -> None:
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(310001)")  # concurrent CREATE … IF NOT EXISTS can collide
        conn.execute(OPS_DDL)
