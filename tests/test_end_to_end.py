"""Landing zone → Dagster runs → dbt marts, compared with an independent pandas recount by rules.md."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg

from laiou_assets.keys import REPOSITORY_LABEL, REPOSITORY_TAG
from laiou_assets.resources import WarehouseResource
from laiou_assets.running import run_everything
from tests.deliveries import write
from tests.recount import by_investor_year, by_province_year, laiou_enterprises, summary_by_year


def query(sql: str) -> pd.DataFrame:
    with psycopg.connect(WarehouseResource().url()) as conn:
        cur = conn.execute(sql)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def repeat_a_voucher(landing: Path) -> str:
    """Deliver a voucher of 2018-10 again in 2018-12 (a producer error feeds.md names); returns its number."""
    october = (landing / "tax_payment/201810/tax_payment_201810.csv").read_text(encoding="utf-8").splitlines()
    december = landing / "tax_payment/201812/tax_payment_201812.csv"
    text = december.read_text(encoding="utf-8")
    header = text.splitlines()[0]
    write(landing, "tax_payment", "201812", text + october[1] + "\n")
    assert header == october[0]
    return october[1].split(",")[0]


def test_laiou_run_builds_marts_equal_to_an_independent_recount(laiou_env, small_landing, capsys):
    landing = laiou_env["landing"]
    shutil.copytree(small_landing, landing)
    repeated = repeat_a_voucher(landing)
    assert run_everything() == 0  # a repeated voucher is a warning (WARN check), not a failure
    assert "warning: raw/tax_payment:no_voucher_from_an_earlier_delivery" in capsys.readouterr().err

    repeats = query(
        "select voucher_no from raw.tax_payment t where exists "
        "(select 1 from raw.tax_payment e where e.voucher_no = t.voucher_no and e._period < t._period)"
    )
    assert repeats.voucher_no.tolist() == [repeated]
    expected = summary_by_year(landing)
    actual = query(
        "select year, cumulative, active, new, exited, tax_wan, indirect_cumulative "
        "from marts.mart_laiou_summary_year order by year"
    )
    assert actual.year.tolist() == expected.year.tolist() == [2018]
    for column in ["cumulative", "active", "new", "exited", "indirect_cumulative"]:
        assert actual[column].tolist() == expected[column].tolist(), column
    assert [Decimal(v) for v in actual.tax_wan] == expected.tax_wan.tolist()
    assert expected.cumulative.iloc[0] > 100 and expected.new.iloc[0] > 10  # the data set is not trivial

    # Enterprise by enterprise: kind, source province and laiou_since (R7, R8).
    recount = laiou_enterprises(landing).set_index("uscc").sort_index()
    dim = query(
        "select uscc, laiou_kind, source_province_code, laiou_since::text from marts.dim_enterprise "
        "where laiou_kind in ('direct', 'branch') order by uscc"
    ).set_index("uscc")
    assert dim.index.tolist() == recount.index.tolist()
    assert dim.laiou_kind.tolist() == recount.kind.tolist()
    assert dim.source_province_code.str[:2].tolist() == recount.province.tolist()
    assert dim.laiou_since.tolist() == recount.since.tolist()
    assert set(recount.kind) == {"direct", "branch"}

    # Source province by year: every measure of the mart (R11–R14), against the recount.
    expected_provinces = by_province_year(landing)
    mart = query("select * from marts.mart_laiou_by_province_year order by year, source_province_code")
    actual_provinces = {
        (r.year, r.source_province_code[:2]): {
            k: None if pd.isna(getattr(r, k)) else getattr(r, k) for k in expected_provinces[(2018, "32")]
        }
        for r in mart.itertuples()
    }
    for key, value in expected_provinces.items():
        assert actual_provinces.get(key) == value, key
    assert actual_provinces.keys() == expected_provinces.keys()
    shares = query(
        "select year, sum(tax_share) as s, count(*) as n from marts.mart_laiou_by_province_year group by year"
    )
    for r in shares.itertuples():  # R14: shares of one year add up to 1, up to their rounding to 10 places
        assert abs(r.s - 1) <= r.n * Decimal("0.5e-10")

    # Investors by year (R15), row by row against the recount, with each case the rule names in the data.
    expected_investors = by_investor_year(landing)
    mart = query("select * from marts.mart_laiou_by_investor_year")
    actual_investors = {
        (r.year, r.source_province_code[:2], None if pd.isna(r.investor_uscc) else r.investor_uscc): {
            k: None if pd.isna(getattr(r, k)) else getattr(r, k) for k in next(iter(expected_investors.values()))
        }
        for r in mart.itertuples()
    }
    assert len(mart) == len(actual_investors)  # one row per investor, province and year
    for key, value in expected_investors.items():
        assert actual_investors.get(key) == value, key
    assert actual_investors.keys() == expected_investors.keys()
    rows = expected_investors.values()
    assert any(k[2] is None and v["cumulative"] > 0 for k, v in expected_investors.items())  # natural persons…
    assert any(v["cumulative"] > 1 and v["investor_name"] for v in rows)  # a group of several enterprises
    assert any(v["investor_name"] is None for v in rows)  # a branch's parent, known only as that
    assert any(v["indirect_cumulative"] > 0 for v in rows)  # an indirect chain's root investor
    national = query(  # national-level investors (100000, R5: no province) lead to no 来沪 enterprise
        "select distinct investor_uscc from staging.stg_feeds__shareholder_records "
        "where substr(investor_uscc, 3, 6) = '100000'"
    ).investor_uscc
    assert len(national) > 0 and not set(national) & set(mart.investor_uscc.dropna())
    assert not mart.investor_name.fillna("").str.contains("*", regex=False).any()  # no natural person's name

    # fct_tax_monthly is incremental by tax month: a partition's run rebuilds that month and no other.
    facts = query("select tax_month, sum(amount_yuan) as s from marts.fct_tax_monthly group by 1 order by 1")
    assert sum(facts.s) / 10000 == sum(expected.tax_wan)
    with psycopg.connect(WarehouseResource().url(), autocommit=True) as conn:
        conn.execute("insert into marts.fct_tax_monthly values ('sentinel', '2018-11-01', '10101', 1.00, 1)")
    refresh = dg.DagsterInstance.get()
    from laiou_assets.definitions import defs

    job = defs().resolve_job_def("refresh_tax_facts")
    assert job.execute_in_process(partition_key="2018-12-01", instance=refresh).success
    assert query("select count(*) as n from marts.fct_tax_monthly where uscc = 'sentinel'").n[0] == 1
    assert job.execute_in_process(partition_key="2018-11-01", instance=refresh).success
    assert query("select count(*) as n from marts.fct_tax_monthly where uscc = 'sentinel'").n[0] == 0
    after = query("select tax_month, sum(amount_yuan) as s from marts.fct_tax_monthly group by 1 order by 1")
    pd.testing.assert_frame_equal(after, facts)

    # The runs are in the Dagster instance, as the UI shows them.
    instance = dg.DagsterInstance.get()
    assert instance.get_latest_materialization_event(dg.AssetKey(["marts", "mart_laiou_summary_year"]))
    in_location = dg.RunsFilter(job_name="build_marts", tags={REPOSITORY_TAG: REPOSITORY_LABEL})  # the job's page
    assert len(instance.get_runs(in_location)) == len(instance.get_runs(dg.RunsFilter(job_name="build_marts"))) > 0
    assert instance.get_materialized_partitions(dg.AssetKey(["raw", "tax_payment"])) == {
        "2018-10-01",
        "2018-11-01",
        "2018-12-01",
    }


def test_running_twice_gives_the_same_rows_and_figures(laiou_env, small_landing):
    shutil.copytree(small_landing, laiou_env["landing"])
    assert run_everything(first="2018-11", last="2018-12") == 0
    counts_sql = (
        "select (select count(*) from raw.saic_enterprise), (select count(*) from raw.tax_payment), "
        "(select count(*) from marts.dim_enterprise)"
    )
    first = query(counts_sql).iloc[0].tolist()
    summary = query("select * from marts.mart_laiou_summary_year order by year")
    assert run_everything(first="2018-11", last="2018-12") == 0
    assert query(counts_sql).iloc[0].tolist() == first
    pd.testing.assert_frame_equal(query("select * from marts.mart_laiou_summary_year order by year"), summary)
    assert query("select count(*) as n from raw.tax_payment where _period = '2018-10-01'").n[0] == 0


def test_run_with_an_empty_landing_zone_says_what_to_do(laiou_env, capsys):
    assert run_everything() == 1
    assert "laiou generate" in capsys.readouterr().err


def test_a_failed_month_fails_the_run_and_names_it_while_other_months_load(laiou_env, small_landing, capsys):
    shutil.copytree(small_landing, laiou_env["landing"])
    manifest = laiou_env["landing"] / "tax_payment" / "201811" / "tax_payment_201811.manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"rows": ', '"rows": 1'), encoding="utf-8")

    assert run_everything(first="2018-11", last="2018-12") == 1
    err = capsys.readouterr().err
    assert "2018-11 ERR" in err and "FAILED: tax_payment" in err  # the month's line
    assert "failed to load:\n  tax_payment 2018-11: " in err  # and why nothing was built over it
    assert query("select count(*) as n from raw.tax_payment where _period = '2018-12-01'").n[0] > 0
    assert query("select count(*) as n from raw.tax_payment where _period = '2018-11-01'").n[0] == 0
    failed = query("select message from audit.load_log where outcome = 'failed'").message.tolist()
    assert len(failed) == 1 and "tax_payment_201811.csv" in failed[0] and "the manifest says" in failed[0]


def test_building_the_marts_before_any_load_gives_empty_marts(laiou_env):
    from laiou_assets.definitions import defs

    result = (
        defs()
        .resolve_job_def("build_marts")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    )
    assert result.success
    assert query("select count(*) as n from marts.mart_laiou_summary_year").n[0] == 0
    assert query("select count(*) as n from marts.dim_enterprise").n[0] == 0


def test_docs_describe_every_model_and_column_in_chinese_and_english(laiou_env):
    """`laiou docs` builds dbt's site; every column PostgreSQL holds for a model or seed is described."""
    import json
    import re
    import subprocess
    import sys

    from laiou_assets.definitions import defs
    from laiou_assets.settings import DBT_PROJECT_DIR

    build = defs().resolve_job_def("build_marts")
    assert build.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False).success
    done = subprocess.run(
        [sys.executable, "-m", "laiou_assets.cli", "docs", "--no-serve"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    catalog = json.loads((DBT_PROJECT_DIR / "target" / "catalog.json").read_text())
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    bilingual = re.compile(r"[\u4e00-\u9fff].*/ .*[A-Za-z]")  # 中文 / English
    undocumented = []
    for unique_id, entry in catalog["nodes"].items():
        node = manifest["nodes"][unique_id]
        if not bilingual.search(node["description"]):
            undocumented.append(node["name"])
        for column in entry["columns"]:
            if not bilingual.search(node["columns"].get(column, {}).get("description", "")):
                undocumented.append(f"{node['name']}.{column}")
    for unique_id, entry in catalog["sources"].items():  # the raw feeds by the contract's words, the load log
        source = manifest["sources"][unique_id]
        undocumented += [
            f"{source['name']}.{column}"
            for column in entry["columns"]
            if not source["columns"].get(column, {}).get("description")
        ]
    assert len(catalog["nodes"]) >= 25 and len(catalog["sources"]) == 7  # four feeds, three audit tables
    assert undocumented == []
    # PostgreSQL carries the marts' descriptions (persist_docs), so a BI tool shows them; the site opens on
    # laiou's own overview, not dbt's generic welcome page.
    with psycopg.connect(laiou_env["LAIOU_DATABASE_URL"]) as conn:
        table, column = conn.execute(
            "select obj_description('marts.dim_enterprise'::regclass), "
            "col_description('marts.dim_enterprise'::regclass, 1)"
        ).fetchone()
    described = next(n for n in manifest["nodes"].values() if n["name"] == "dim_enterprise")
    assert table.strip() == described["description"].strip() and bilingual.search(column)
    overview = manifest["docs"]["doc.laiou.__overview__"]["block_contents"]
    assert "各地来沪投资数据采集与统计分析系统" in overview and "Where to start" in overview
