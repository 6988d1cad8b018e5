"""统计分析 (issue #17): the annual report and the monthly bulletin, read back from their Word files and
compared with the marts; a year or month without data is one clear line."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from docx import Document

from laiou_assets.defs.analysis.assets import analysis_folder
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.reporting import report
from laiou_assets.running import run_everything
from tests.scratch import scratch_warehouse


@pytest.fixture(scope="module")
def built(tmp_path_factory, server_url):
    """Four months across a new year (2017-11 … 2018-02), so that 2018 has a year before it."""
    home = tmp_path_factory.mktemp("analysis")
    landing = home / "landing"
    generate(landing, GeneratorConfig("2017-11", "2018-02", 1500, seed=11), progress=lambda _: None)
    with pytest.MonkeyPatch.context() as mp, scratch_warehouse(server_url, home, mp, landing) as env:
        assert run_everything() == 0
        yield env["LAIOU_DATABASE_URL"]


def sql(url: str, query: str, params=None) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def text_and_tables(path) -> tuple[str, list[list[list[str]]]]:
    word = Document(str(path))
    text = "\n".join(p.text for p in word.paragraphs)
    return text, [[[cell.text for cell in row.cells] for row in table.rows] for table in word.tables]


def test_a_year_or_month_without_data_is_one_line(built, capsys):
    assert report("annual", "2016") == 2
    assert report("monthly", "2019-05") == 2
    err = capsys.readouterr().err
    assert "laiou report annual: 2016: no figures in the marts; the marts hold 2017–2018" in err
    assert "laiou report monthly: 2019-05: no tax month in the marts" in err
    assert not analysis_folder("2016").exists()


def test_the_annual_report_says_what_the_marts_hold(built):
    assert report("annual", "2018") == 0
    docx = analysis_folder("2018") / "annual_report_2018.docx"
    text, tables = text_and_tables(docx)
    assert text.startswith("各地来沪投资企业统计分析报告（2018年）")
    (now,), (before,) = (
        sql(
            built,
            "select cumulative, active, new, exited, tax_wan from marts.mart_laiou_summary_year where year = %s",
            [y],
        )
        for y in (2018, 2017)
    )
    cumulative, active, new, exited, tax_wan = now
    assert f"全市累计来沪投资企业 {cumulative:,} 户，其中在营 {active:,} 户" in text
    assert f"当年新增 {new:,} 户，退出 {exited:,} 户，净增 {new - exited:,} 户" in text
    headline = {row[0]: row[1:] for row in tables[0][1:]}
    assert headline["累计"] == [f"{cumulative:,}", f"{before[0]:,}", f"{(cumulative - before[0]) / before[0]:+.1%}"]
    assert headline["税收（万元）"][0] == f"{tax_wan:,.2f}"

    provinces = sql(
        built,
        "select source_province_name, tax_wan, tax_share from marts.mart_laiou_by_province_year where year = 2018 "
        "order by tax_wan desc, source_province_code limit 10",
    )
    shown = [(row[1], row[4], row[5]) for row in tables[1][1:]]
    assert shown == [(name, f"{tax:,.2f}", f"{share:.2%}") for name, tax, share in provinces]

    # Concentration: the top 1 % and 10 % of the enterprises with tax in 2018, recounted from the facts.
    paid = sorted(
        (
            t
            for (t,) in sql(
                built,
                "select sum(amount_yuan) from marts.fct_tax_monthly where tax_month >= '2018-01-01' "
                "and tax_month < '2019-01-01' group by uscc having sum(amount_yuan) <> 0",
            )
        ),
        reverse=True,
    )
    top10 = max(1, math.ceil(len(paid) / 10))
    assert f"最多的 10%（{top10:,} 户）贡献 {sum(paid[:top10]) / sum(paid):.1%}" in text
    assert len(Document(str(docx)).inline_shapes) == 1  # the provinces' chart
    page = (analysis_folder("2018") / "annual_report_2018.html").read_text(encoding="utf-8")
    assert "各地来沪投资企业统计分析报告（2018年）" in page and "data:image/png;base64," in page
    assert "八、修订说明 Revisions" in text


def test_the_monthly_bulletin_counts_the_months_new_enterprises_and_tax(built):
    assert report("monthly", "2018-02") == 0
    text, _ = text_and_tables(analysis_folder("2018-02") / "bulletin_2018-02.docx")
    [(new, new_ytd)] = sql(
        built,
        "select count(*) filter (where laiou_since >= '2018-02-01'), count(*) from marts.dim_enterprise "
        "where laiou_kind in ('direct', 'branch') and laiou_since between '2018-01-01' and '2018-02-28'",
    )
    [(ytd,)] = sql(
        built,
        "select sum(amount_yuan) from marts.fct_tax_monthly where tax_month between '2018-01-01' and '2018-02-01'",
    )
    assert f"2018年2月新增来沪投资企业 {new:,} 户，本年累计新增 {new_ytd:,} 户" in text
    assert f"本年 1–2 月 {ytd / Decimal(10000):,.2f} 万元" in text
    assert date(2018, 2, 1).strftime("%Y-%m") in text
