"""统计分析 (issue #17) on one warehouse: the annual report and the monthly bulletin, read back from their Word
files and compared with the marts; a year or month without data is one clear line; `laiou publish` freezes a
year's figures, a corrected delivery shows up in marts.figure_revisions naming its month (and in the reports),
publishing again adds a publication and keeps the first."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import psycopg
import pytest
from docx import Document

from laiou_assets.defs.analysis.assets import analysis_folder
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.publishing import publish
from laiou_assets.reporting import report
from laiou_assets.running import run_everything
from ops_checks.inspection_report import build_monthly_report
from tests.deliveries import delivered_rows, rewrite
from tests.scratch import scratch_warehouse


@pytest.fixture(scope="module")
def built(tmp_path_factory, server_url):
    """Four months across a new year (2017-11 … 2018-02), so that 2018 has a year before it."""
    home = tmp_path_factory.mktemp("analysis")
    landing = home / "landing"
    generate(landing, GeneratorConfig("2017-11", "2018-02", 1500, seed=11), progress=lambda _: None)
    with pytest.MonkeyPatch.context() as mp, scratch_warehouse(server_url, home, mp, landing) as env:
        assert run_everything() == 0
        yield env["LAIOU_DATABASE_URL"], landing


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
    assert "laiou report monthly: 2019-05: not a delivered month; the deliveries run 2017-11–2018-02" in err
    assert report("monthly", "2017-10") == 2  # vouchers of October came with November's delivery: not a month
    assert not analysis_folder("2016").exists()


def test_the_annual_report_says_what_the_marts_hold(built):
    built, _ = built
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
    built, _ = built
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


MEASURES = 9  # of each province, district and industry row (warehouse.md's measures of the by-year marts)


def correct_a_voucher(url: str, landing, by: Decimal) -> tuple[str, str, str]:
    """Deliver 2018-02's tax file again (in its encoding) with one headline enterprise's voucher of 2018-02
    changed by `by`; returns the voucher's enterprise, its tax month (YYYY-MM-01) and the voucher number."""
    headline = {
        u for (u,) in sql(url, "select uscc from marts.dim_enterprise where laiou_kind in ('direct', 'branch')")
    }
    rows, encoding = delivered_rows(landing, "tax_payment", "201802")
    header = rows[0]
    at = {name: rows[0].index(name) for name in ("voucher_no", "taxpayer_id", "tax_period", "amount")}
    row = next(r for r in rows[1:] if r[at["taxpayer_id"]] in headline and r[at["tax_period"]] == "201802")
    row[at["amount"]] = str(Decimal(row[at["amount"]]) + by)
    rewrite(landing, "tax_payment", "201802", [header, *rows[1:]], encoding)
    return row[at["taxpayer_id"]], "2018-02-01", row[at["voucher_no"]]


def test_a_corrected_delivery_after_publishing_is_a_revision_naming_its_month(built, capsys):
    url, landing = built
    assert publish(2016) == 2  # a year with no data: one clear line, nothing published
    assert "2016 has no figures to publish; the marts hold 2017–2018" in capsys.readouterr().err
    assert sql(url, "select count(*) from marts.published_figures") == [(0,)]

    assert publish(2018) == 0
    splits = sum(
        sql(url, f"select count(*) from marts.{mart} where year = 2018")[0][0]
        for mart in ("mart_laiou_by_province_year", "mart_laiou_by_district_year", "mart_laiou_by_industry_year")
    )
    frozen = sql(url, "select count(*), count(distinct publication_id) from marts.published_figures where year = 2018")
    assert frozen == [(6 + splits * MEASURES, 1)]  # the summary's six figures and every split's nine
    tax_wan, cumulative = sql(url, "select tax_wan, cumulative from marts.mart_laiou_summary_year where year = 2018")[0]
    assert sql(
        url,
        "select measure, value from marts.published_figures where dimension = 'summary' "
        "and measure in ('tax_wan', 'cumulative') order by measure",
    ) == [("cumulative", cumulative), ("tax_wan", tax_wan)]
    built_from = sql(url, "select distinct jsonb_array_length(built_from) from marts.published_figures")
    assert built_from == [(len(list(landing.glob("*/*/*.csv"))),)]  # every delivery it was built from
    assert sql(url, "select count(*) from marts.figure_revisions") == [(0,)]

    # The tax bureau delivers 2018-12 again: one voucher of a 来沪 enterprise 1,000.00 元 higher.
    uscc, _, _ = correct_a_voucher(url, landing, Decimal("1000.00"))
    district, province = sql(
        url, "select district_code, source_province_code from marts.dim_enterprise where uscc = %s", [uscc]
    )[0]
    assert run_everything() == 0
    revisions = {
        (dimension, member, measure): (published, current, change, months)
        for dimension, member, measure, published, current, change, months in sql(
            url,
            "select dimension, member_code, measure, published_value, current_value, change, redelivered_months "
            "from marts.figure_revisions where year = 2018",
        )
    }
    tax_changes = {key[:2]: value[2] for key, value in revisions.items() if key[2] == "tax_wan"}
    assert tax_changes == {  # 0.1 万元 more in the summary, the enterprise's province, district and section
        ("summary", ""): Decimal("0.1"),
        ("province", province): Decimal("0.1"),
        ("district", district): Decimal("0.1"),
        ("industry", sql(url, "select industry_section from marts.dim_enterprise where uscc = %s", [uscc])[0][0]): (
            Decimal("0.1")
        ),
    }
    summary = revisions[("summary", "", "tax_wan")]
    assert summary[0] == tax_wan and summary[1] == tax_wan + Decimal("0.1")
    assert {months for *_, months in revisions.values()} == {"tax_payment 2018-02 (redelivered 重新交付)"}
    with psycopg.connect(url) as conn:  # the inspection report lists them, and so does the bulletin
        inspection = build_monthly_report(conn, dg.DagsterInstance.get(), landing, "2018-02-01", datetime.now(UTC))
    section = next(s for s in inspection.sections if s.title.startswith("修订"))
    assert section.text == [
        f"Published years (2018): {len(revisions)} figures differ from their latest publication; the deliveries "
        "loaded since that changed the data are named (marts.figure_revisions)."
    ]
    assert ["2018", "summary tax_wan", "全市 / all Shanghai"] in [row[:3] for row in section.rows]
    assert report("monthly", "2018-02") == 0
    bulletin, _ = text_and_tables(analysis_folder("2018-02") / "bulletin_2018-02.docx")
    assert f"2018年已发布数据中有 {len(revisions)} 项因数据重新交付而修订" in bulletin

    # Publishing again adds a publication; the first is kept, and the revisions compare with the latest.
    assert publish(2018) == 0
    assert sql(url, "select count(distinct publication_id) from marts.published_figures where year = 2018") == [(2,)]
    assert sql(
        url,
        "select count(*) from marts.published_figures where year = 2018 and dimension = 'summary' "
        "and measure = 'tax_wan' and value = %s",
        [tax_wan],
    ) == [(1,)]
    assert sql(url, "select count(*) from marts.figure_revisions") == [(0,)]
