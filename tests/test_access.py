"""Access to the marts (warehouse.md, Access; issue #7): the BI role, the district roles and row-level
security, against marts built by `laiou run` from a small generated landing zone."""

import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from openpyxl import load_workbook

from laiou_assets import settings, warehouse
from laiou_assets.access import BI_ROLE, current_districts, district_role, ensure_roles
from laiou_assets.cli import main
from laiou_assets.definitions import defs
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.running import run_everything
from laiou_assets.usage import UsageUnavailable, monthly_usage, take_snapshot
from ops_checks.access import ROW_LEVEL_TABLES, access_problems
from ops_checks.inspection_report import build_monthly_report
from tests.marts_access import (
    HOSTILE,
    PROTECTED,
    ForeignRowWatch,
    as_role,
    being_created,
    builder_busy,
    dbt_command,
    fetch,
    give_an_enterprise_a_hostile_name,
    hostile_uscc,
    table_oid,
)
from tests.scratch import scratch_warehouse

LAIOU = str(Path(sys.prefix) / "bin" / "laiou")  # the venv's, even when the test runs from a clone


@pytest.fixture(scope="module")
def built(tmp_path_factory, server_url):
    """A database with every mart built (two months, 600 enterprises), one hostile enterprise name."""
    home = tmp_path_factory.mktemp("access")
    landing = home / "landing"
    generate(landing, GeneratorConfig("2018-11", "2018-12", 600, seed=11), progress=lambda _: None)
    give_an_enterprise_a_hostile_name(landing)
    with pytest.MonkeyPatch.context() as mp, scratch_warehouse(server_url, home, mp, landing) as env:
        assert run_everything() == 0
        yield env["LAIOU_DATABASE_URL"]


def test_bi_role_reads_every_mart_and_nothing_else_and_writes_nothing(built):
    marts = [r[0] for r in fetch(built, "select tablename from pg_tables where schemaname = 'marts'")]
    assert {"dim_enterprise", "fct_tax_monthly", "mart_laiou_summary_year"} <= set(marts)
    for table in marts:  # every row of every mart, as the platform sees it
        assert fetch(built, f"select count(*) from marts.{table}", BI_ROLE) == fetch(
            built, f"select count(*) from marts.{table}"
        ), table
    with as_role(built, BI_ROLE) as conn:
        for forbidden in [
            "select 1 from raw.tax_payment limit 1",
            "select 1 from audit.load_log limit 1",
            "select 1 from staging.stg_feeds__tax_vouchers limit 1",
            "select 1 from intermediate.int_enterprises_current limit 1",
            "delete from marts.mart_laiou_summary_year",
            "update marts.dim_enterprise set name = 'x'",
            "insert into marts.dim_region (region_code) values ('x')",
            "create table marts.mine (x int)",
            "create table public.mine (x int)",
            "drop table marts.dim_region",
            "alter table marts.dim_enterprise disable row level security",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(forbidden)


def test_a_district_role_sees_only_its_district_and_cannot_widen_that(built):
    counts = dict(fetch(built, "select district_code, count(*) from marts.dim_enterprise group by 1"))
    district = max(counts, key=counts.get)
    role = district_role(district)
    assert district in current_districts() and 0 < counts[district] < sum(counts.values())

    seen = fetch(built, "select distinct district_code from marts.dim_enterprise", role)
    assert seen == [(district,)]
    assert fetch(built, "select count(*) from marts.dim_enterprise", role) == [(counts[district],)]
    for fact, measure in {"fct_tax_monthly": "amount_yuan", "fct_stats_monthly": "employees"}.items():
        expected = fetch(
            built,
            f"select count(*), sum(f.{measure}) "
            f"from marts.{fact} f join marts.dim_enterprise d using (uscc) where d.district_code = '{district}'",
        )
        assert fetch(built, f"select count(*), sum({measure}) from marts.{fact}", role) == expected, fact
        assert expected[0][0] > 0, fact
    # Aggregate marts are whole for every district.
    assert fetch(built, "select count(*) from marts.mart_laiou_by_district_year", role) == fetch(
        built, "select count(*) from marts.mart_laiou_by_district_year"
    )
    with as_role(built, role) as conn:
        for widen in [
            f"set role {BI_ROLE}",
            "alter table marts.dim_enterprise disable row level security",
            "drop policy district_rows on marts.dim_enterprise",
            "create policy mine on marts.dim_enterprise using (true)",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(widen)
        conn.execute("set row_security = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # refused, never silently widened
            conn.execute("select count(*) from marts.dim_enterprise")


def test_rebuilding_the_marts_keeps_the_policies_and_the_check_sees_them(built, monkeypatch):
    monkeypatch.setenv("LAIOU_DATABASE_URL", built)
    with psycopg.connect(built) as conn:
        assert access_problems(conn)[0] == []
    d = defs()
    results = {
        job: d.resolve_job_def(job).execute_in_process(raise_on_error=False, **kwargs)
        for job, kwargs in [("build_marts", {}), ("refresh_tax_facts", {"partition_key": "2018-12-01"})]
    }
    assert all(r.success for r in results.values())
    with psycopg.connect(built) as conn:
        problems, state = access_problems(conn)
    assert problems == []
    for table in ROW_LEVEL_TABLES:
        assert state[table]["rls"] and state[table]["forced"], table
    evaluations = results["build_marts"].get_asset_check_evaluations()
    access = [e for e in evaluations if e.check_name == "access_as_warehouse_md_says"]
    assert len(access) == 1 and access[0].passed

    # The check fails when security is taken off.
    with psycopg.connect(built, autocommit=True) as conn:
        conn.execute("alter table marts.fct_stats_monthly no force row level security")
        problems, _ = access_problems(conn)
        conn.execute("alter table marts.fct_stats_monthly force row level security")
    assert problems == [
        "marts.fct_stats_monthly: row-level security not forced with ['all_rows', 'district_rows'] "
        "(has ['all_rows', 'district_rows'])"
    ]


def test_no_natural_person_name_reaches_the_marts(built):
    persons = {
        r[0] for r in fetch(built, "select distinct investor_name from raw.saic_shareholder where investor_type = 'P'")
    }
    assert persons
    text_columns = fetch(
        built,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and data_type in ('text', 'character varying', 'character')",
    )
    for table, column in text_columns:
        values = {r[0] for r in fetch(built, f'select distinct "{column}"::text from marts.{table}')}
        assert not values & persons, f"marts.{table}.{column} holds a natural person's name"


def test_psql_connects_as_laiou_bi_with_the_url_laiou_prints(built, monkeypatch, capsys):
    monkeypatch.setenv("LAIOU_DATABASE_URL", built)
    assert main(["db", "url", "--role", BI_ROLE]) == 0
    url = capsys.readouterr().out.strip()
    psql = warehouse.EmbeddedServer(settings.laiou_home() / "pg").bin_dir / "psql"
    out = subprocess.run(
        [str(psql), url, "-Atc", "select current_user, count(*) from marts.mart_laiou_summary_year"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"{BI_ROLE}|{fetch(built, 'select count(*) from marts.mart_laiou_summary_year')[0][0]}"


def test_district_packages_open_in_excel_and_equal_the_marts(built):
    result = defs().resolve_job_def("export_district_packages").execute_in_process(partition_key="2018-12-01")
    assert result.success
    folder = settings.laiou_home() / "exports" / "201812"
    current = {r[0] for r in fetch(built, "select district_code from reference.ref_districts where is_current")}
    assert {p.name for p in folder.iterdir()} == {f"laiou_{c}_201812.xlsx" for c in current}

    district = fetch(
        built,
        "select district_code from marts.dim_enterprise where laiou_kind is not null group by 1 order by count(*) desc "
        "limit 1",
    )[0][0]
    book = load_workbook(folder / f"laiou_{district}_201812.xlsx")
    enterprises = book["来沪企业 enterprises"]
    *listed, total = enterprises.iter_rows(min_row=3, values_only=True)
    usccs = {row[0] for row in listed}
    expected = fetch(
        built,
        f"select uscc, laiou_kind, status from marts.dim_enterprise where district_code = '{district}' "
        "and laiou_kind is not null",
    )
    assert usccs == {r[0] for r in expected} and len(usccs) == len(listed)
    # Labels, not codes; the 合计 row; bold, frozen, filtered headers; the notes sheet with the rule ids.
    kinds, statuses = (
        {"direct": "直接", "branch": "分支", "indirect": "再投资"},
        {"1": "在营", "2": "注销", "3": "吊销"},
    )
    by_uscc = {r[0]: r for r in listed}
    assert all(by_uscc[u][5] == kinds[k] and by_uscc[u][9] == statuses.get(s, "迁出") for u, k, s in expected)
    headline = sum(1 for _, k, _ in expected if k in ("direct", "branch"))
    assert total[0] == "合计 total" and total[1].startswith(f"{headline:,} 户来沪企业")
    assert enterprises["A2"].font.bold and enterprises.freeze_panes == "A3"
    assert enterprises.auto_filter.ref == f"A2:K{enterprises.max_row - 1}"
    notes = [row for row in book["说明 notes"].iter_rows(min_row=3, values_only=True)]
    assert {"R7, R8, R11", "R10", "R12", "R13", "R15"} <= {rule for *_, rule in notes}

    [(tax_wan, employees)] = fetch(
        built,
        f"""select (select sum(f.amount_yuan) / 10000 from marts.fct_tax_monthly f join marts.dim_enterprise d
                    using (uscc) where d.district_code = '{district}' and d.laiou_kind is not null
                    and f.tax_month between '2018-01-01' and '2018-12-01'),
                   (select sum(s.employees) from marts.fct_stats_monthly s join marts.dim_enterprise d using (uscc)
                    where d.district_code = '{district}' and d.laiou_kind is not null and s.month = '2018-12-01')""",
    )
    assert tax_wan > 0 and employees > 0
    for sheet in ["按来源省份 by province", "按行业 by industry"]:
        *rows, total = book[sheet].iter_rows(min_row=3, values_only=True)
        assert sum(r[2] for r in rows) == headline and sum(r[3] for r in rows) == len(usccs) - headline, sheet
        assert round(sum(r[4] for r in rows), 2) == round(float(tax_wan), 2), sheet
        assert sum(r[6] for r in rows) == employees, sheet
        assert total[0] == "合计 total" and total[2:] == (headline, len(usccs) - headline, *total[4:])
        assert round(total[4], 2) == round(float(tax_wan), 2) and total[6] == employees, sheet
        assert len(book[sheet]._charts) == 1, sheet


def test_usage_counts_each_reading_roles_statements_by_month(built):
    district = district_role(current_districts()[0])
    with psycopg.connect(built, autocommit=True) as conn:
        try:
            before = take_snapshot(conn)
        except UsageUnavailable as exc:  # an external server without the extension; the embedded one has it
            pytest.skip(str(exc))
    for role, statements in [(BI_ROLE, 3), (district, 2)]:
        with as_role(built, role) as conn:
            for _ in range(statements):
                conn.execute("select count(*) from marts.mart_laiou_summary_year")
    result = defs().resolve_job_def("snapshot_mart_usage").execute_in_process()
    assert result.success
    with psycopg.connect(built, autocommit=True) as conn:
        after = dict(
            conn.execute(
                "select role, statements from audit.usage_snapshot where taken_at = (select max(taken_at) "
                "from audit.usage_snapshot)"
            ).fetchall()
        )
        months = monthly_usage(conn)
    assert after[BI_ROLE] - before[BI_ROLE] == 3
    assert after[district] - before[district] == 2
    assert all(after[r] == before[r] for r in before if r not in (BI_ROLE, district))
    this_month = fetch(built, "select date_trunc('month', max(taken_at))::date from audit.usage_snapshot")[0][0]
    assert {(r, n) for m, r, n in months if m == this_month} >= {(BI_ROLE, after[BI_ROLE]), (district, after[district])}


def test_the_inspection_report_shows_the_use_of_the_marts_against_the_2018_baseline(built, tmp_path):
    with psycopg.connect(built, autocommit=True) as conn:
        try:
            take_snapshot(conn)
        except UsageUnavailable as exc:
            pytest.skip(str(exc))
    with as_role(built, BI_ROLE) as conn:
        for _ in range(4):
            conn.execute("select count(*) from marts.dim_region")
    now = datetime.now(UTC)
    with psycopg.connect(built, autocommit=True) as conn:
        take_snapshot(conn)
        by_month: dict[str, int] = {}
        for month, _, n in monthly_usage(conn):
            by_month[f"{month:%Y-%m}"] = by_month.get(f"{month:%Y-%m}", 0) + n
        key = f"{now:%Y-%m}-01"
        report = build_monthly_report(conn, dg.DagsterInstance.ephemeral(), tmp_path, key, now)
    usage = next(s for s in report.sections if s.title.startswith("使用量"))
    assert dict(usage.rows) == by_month and by_month[key[:7]] >= 4
    assert report.figures["usage_statements"] == by_month[key[:7]]
    assert "2018 baseline of 450 opens a year" in usage.text[0]
    assert report.charts["usage.png"][:4] == b"\x89PNG"


def test_the_pandas_example_of_docs_bi_md_runs_as_laiou_bi(built, monkeypatch):
    text = (settings.PROJECT_ROOT / "docs" / "bi.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    monkeypatch.setenv("LAIOU_DATABASE_URL", built)
    monkeypatch.chdir(settings.PROJECT_ROOT)
    scope: dict = {}
    exec(compile(example.replace(".venv/bin/laiou", LAIOU), "docs/bi.md", "exec"), scope)  # noqa: S102
    assert scope["summary"].year.tolist() == [
        r[0] for r in fetch(built, "select year from marts.mart_laiou_summary_year order by year")
    ]
    assert (
        len(scope["by_province"])
        == fetch(built, "select count(*) from marts.mart_laiou_by_province_year where year = 2018")[0][0]
        > 0
    )
    with scope["engine"].connect() as conn:
        assert conn.exec_driver_sql("select current_user").scalar() == BI_ROLE


def test_hostile_text_in_a_feed_stays_text_through_the_marts(built):
    uscc = hostile_uscc(built)
    assert fetch(built, f"select name from marts.dim_enterprise where uscc = '{uscc}'", BI_ROLE) == [(HOSTILE,)]
    # Nothing dropped: every enterprise delivered is in the marts, the hostile one included.
    assert fetch(built, "select count(*) from marts.dim_enterprise") == fetch(
        built, "select count(distinct uscc) from raw.saic_enterprise"
    )


# --- Access fails closed (issue #19): no district role ever reads a foreign row, during or after a build ---


def test_a_district_role_never_sees_a_foreign_row_while_the_marts_are_rebuilt(built, tmp_path):
    watch = ForeignRowWatch(built)
    argv, env = dbt_command(built, tmp_path, "run", "--full-refresh", "--select", "path:models/marts")
    before = {name: table_oid(built, name) for name in PROTECTED}
    build = subprocess.Popen(argv, cwd=settings.DBT_PROJECT_DIR, env=env, stdout=subprocess.DEVNULL)
    while build.poll() is None:
        watch.poll()
    watch.poll()
    assert build.returncode == 0
    assert all(table_oid(built, name) != before[name] for name in PROTECTED)  # every protected table was replaced
    assert watch.answered > 20, "the watch read too rarely to tell"
    assert watch.foreign == []
    with psycopg.connect(built) as conn:
        assert access_problems(conn)[0] == []


@pytest.mark.parametrize("model", PROTECTED)
def test_a_build_killed_at_a_protected_model_leaves_no_foreign_row_readable(built, tmp_path, model):
    """Killed once inside the transaction that rebuilds `model`, once right after that transaction commits."""
    watch = ForeignRowWatch(built)
    argv, env = dbt_command(built, tmp_path, "run", "--full-refresh", "--select", model)
    for moment in ("building", "committed"):
        before = table_oid(built, model)
        build = subprocess.Popen(argv, cwd=settings.DBT_PROJECT_DIR, env=env, stdout=subprocess.DEVNULL)
        while build.poll() is None:
            replaced = table_oid(built, model) != before
            if (moment == "committed" and replaced) or (moment == "building" and being_created(built, model)):
                build.kill()
                break
            watch.poll()
        build.wait()
        while builder_busy(built):  # the server notices the lost client and rolls back, or has committed
            watch.poll()
        watch.poll()
        if moment == "committed":
            assert table_oid(built, model) != before, "the build ended before it could be killed after its commit"
    assert watch.answered > 0
    assert watch.foreign == []
    with psycopg.connect(built) as conn:
        problems, state = access_problems(conn)
    assert problems == [], problems
    assert state[model]["rls"] and state[model]["forced"]


def test_an_idle_reader_cannot_stall_a_build(built, tmp_path, monkeypatch):
    """A district user's BI session left idle inside a transaction on dim_enterprise loses it after the
    readers' idle timeout (2 s here, 60 s by default), and the build that waited for the table goes on."""
    monkeypatch.setenv("LAIOU_READER_IDLE_TIMEOUT", "2s")
    with psycopg.connect(built, autocommit=True) as conn:
        ensure_roles(conn)  # role settings apply at the reader's next login
    district = fetch(built, "select district_code from marts.dim_enterprise limit 1")[0][0]
    reader = psycopg.connect(warehouse.with_user(built, district_role(district)))  # not autocommit: a transaction
    try:
        reader.execute("select count(*) from marts.dim_enterprise").fetchone()  # and then nothing: idle in it
        argv, env = dbt_command(built, tmp_path, "run", "--select", "dim_enterprise")
        started = time.monotonic()
        build = subprocess.run(argv, cwd=settings.DBT_PROJECT_DIR, env=env, capture_output=True, timeout=180)
        assert build.returncode == 0, build.stdout[-2000:]
        assert time.monotonic() - started < 60
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            reader.execute("select 1")  # the server ended the idle transaction's session
    finally:
        reader.close()
        monkeypatch.delenv("LAIOU_READER_IDLE_TIMEOUT")
        with psycopg.connect(built, autocommit=True) as conn:
            ensure_roles(conn)
    assert fetch(
        built,
        "select setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole "
        f"where r.rolname = '{BI_ROLE}'",
    )[0][0] == ["idle_in_transaction_session_timeout=60s", "statement_timeout=5min"]


def test_two_dbt_builds_wait_for_each_other(built, monkeypatch):
    """A dbt build waits while another holds the build lock (a `laiou run` and the daemon's schedule)."""
    monkeypatch.setenv("LAIOU_DATABASE_URL", built)
    before = table_oid(built, "dim_enterprise")
    outcome = {}
    job = defs().resolve_job_def("build_marts")
    with warehouse.advisory_lock(built, warehouse.BUILD_LOCK, "another build"):
        build = threading.Thread(target=lambda: outcome.update(result=job.execute_in_process(raise_on_error=False)))
        build.start()
        time.sleep(4)
        assert build.is_alive() and table_oid(built, "dim_enterprise") == before  # waiting, nothing rebuilt
    build.join(timeout=300)
    assert outcome["result"].success
    assert table_oid(built, "dim_enterprise") != before
