"""Numbered migrations of raw and audit (issue #15): a new warehouse, one made by the release before
migrations, and one of the first releases (raw tables not partitioned) all reach the head revision through
`laiou db upgrade` and keep every row."""

from pathlib import Path

import psycopg

from laiou_assets import migrations
from laiou_assets.cli import main

BEFORE_MIGRATIONS = Path(__file__).parent / "fixtures" / "warehouse_before_migrations.sql"

# raw.tax_payment and audit.load_log as the first releases made them (commit 59ad504): one plain table.
FIRST_RELEASE = """
create schema raw; create schema audit;
create table raw.tax_payment (
  voucher_no text, taxpayer_id text, tax_period text, tax_type text, amount numeric(18,2), paid_date date,
  _period date not null, _line integer not null, _loaded_at timestamptz not null default now()
);
create index tax_payment__period_idx on raw.tax_payment (_period);
create table audit.load_log (
  load_id bigserial primary key, feed text not null, period date not null, file text not null, sha256 text,
  rows bigint, loaded bigint, quarantined bigint, control_column text,
  control_total_expected numeric(20,2), control_total_loaded numeric(20,2), control_total_quarantined numeric(20,2),
  started_at timestamptz not null, finished_at timestamptz not null default now(),
  outcome text not null check (outcome in ('loaded', 'failed')), message text
);
insert into raw.tax_payment values
  ('V1', '91310000MA1K00001X', '201811', '10101', 12.50, '2018-11-05', '2018-11-01', 2, now()),
  ('V2', '91310000MA1K00001X', '201811', '10101', -2.00, '2018-11-06', '2018-11-01', 3, now()),
  ('V3', '91310000MA1K00002X', '201812', '10101', 7.25, '2018-12-03', '2018-12-01', 2, now());
insert into audit.load_log (feed, period, file, rows, loaded, quarantined, started_at, outcome)
  values ('tax_payment', '2018-11-01', 'tax_payment_201811.csv', 2, 2, 0, now(), 'loaded');
"""


def upgrade_by_hand(capsys) -> str:
    assert main(["db", "upgrade"]) == 0
    return capsys.readouterr().out


def test_a_new_warehouse_is_created_at_the_head_and_a_second_upgrade_changes_nothing(laiou_env, capsys):
    said = upgrade_by_hand(capsys)
    assert "from no revision" in said and f"to {migrations.head()}" in said
    with psycopg.connect(laiou_env["LAIOU_DATABASE_URL"]) as conn:
        assert migrations.current(conn) == migrations.head()
        tables = {r[0] for r in conn.execute("select schemaname || '.' || tablename from pg_tables")}
        kinds = dict(conn.execute("select relname, relkind from pg_class where relname in ('tax_payment', 'load_log')"))
    assert {"audit.load_log", "audit.incident", "audit.backup", "audit.usage_snapshot"} <= tables
    assert kinds == {"tax_payment": "p", "load_log": "r"}
    assert "are current" in upgrade_by_hand(capsys)


def test_a_warehouse_of_the_release_before_migrations_upgrades_and_keeps_its_rows(laiou_env, capsys):
    url = laiou_env["LAIOU_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(BEFORE_MIGRATIONS.read_text(encoding="utf-8"))
        conn.execute("set search_path = public")
        conn.execute(
            "create table raw.tax_payment_201811 partition of raw.tax_payment "
            "for values from ('2018-11-01') to ('2018-12-01')"
        )
        conn.execute(
            "insert into raw.tax_payment (voucher_no, taxpayer_id, tax_period, tax_type, amount, paid_date, _period,"
            " _line) values ('V1', '91310000MA1K00001X', '201811', '10101', 12.50, '2018-11-05', '2018-11-01', 2)"
        )
        conn.execute(
            "insert into audit.load_log (feed, period, file, started_at, outcome, manifest_sha256) "
            "values ('tax_payment', '2018-11-01', 'f.csv', now(), 'loaded', 'abc')"
        )
        conn.execute("insert into audit.incident_cursor default values on conflict do nothing")
        conn.execute("update audit.incident_cursor set runs = 41, checks = 40")
    said = upgrade_by_hand(capsys)
    assert "from no revision" in said
    with psycopg.connect(url) as conn:
        assert migrations.current(conn) == migrations.head()
        assert conn.execute("select voucher_no, amount::text from raw.tax_payment").fetchall() == [("V1", "12.50")]
        assert conn.execute("select file, manifest_sha256 from audit.load_log").fetchall() == [("f.csv", "abc")]
        assert conn.execute("select * from audit.incident_cursor").fetchall() == [(True, 41)]  # 0002: runs only


def test_raw_tables_of_the_first_releases_become_monthly_partitions_with_their_rows(laiou_env, capsys):
    url = laiou_env["LAIOU_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FIRST_RELEASE)
    upgrade_by_hand(capsys)
    with psycopg.connect(url) as conn:
        partitions = conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = 'raw.tax_payment'::regclass order by 1"
        ).fetchall()
        rows = conn.execute(
            "select tableoid::regclass::text, voucher_no, amount::text, _line from raw.tax_payment order by voucher_no"
        ).fetchall()
        log = conn.execute("select file, manifest_sha256, failure from audit.load_log").fetchall()
        kind = conn.execute("select relkind from pg_class where oid = 'raw.tax_payment'::regclass").fetchone()[0]
    assert kind == "p" and partitions == [("tax_payment_201811",), ("tax_payment_201812",)]
    assert rows == [
        ("raw.tax_payment_201811", "V1", "12.50", 2),
        ("raw.tax_payment_201811", "V2", "-2.00", 3),
        ("raw.tax_payment_201812", "V3", "7.25", 2),
    ]
    assert log == [("tax_payment_201811.csv", None, None)]  # the columns added since, empty
