"""发布与修订 (issue #17, warehouse.md): `laiou publish` freezes a year's figures; a corrected delivery shows
up in marts.figure_revisions naming its month; publishing again adds a publication and keeps the first."""

from __future__ import annotations

import csv
import io
import shutil
from decimal import Decimal

import psycopg

from laiou_assets import settings, warehouse
from laiou_assets.publishing import publish
from laiou_assets.running import run_everything
from tests.deliveries import write

MEASURES = 9  # of each province, district and industry row (warehouse.md's measures of the by-year marts)


def sql(query: str, params=None) -> list[tuple]:
    with psycopg.connect(warehouse.database_url(), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def correct_a_voucher(landing, by: Decimal) -> tuple[str, str, str]:
    """Deliver 2018-12's tax file again with one headline enterprise's voucher of 2018 changed by `by`;
    returns the voucher's enterprise, its tax month (YYYY-MM-01) and the voucher number."""
    headline = {u for (u,) in sql("select uscc from marts.dim_enterprise where laiou_kind in ('direct', 'branch')")}
    path = landing / "tax_payment" / "201812" / "tax_payment_201812.csv"
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    at = {name: rows[0].index(name) for name in ("voucher_no", "taxpayer_id", "tax_period", "amount")}
    row = next(r for r in rows[1:] if r[at["taxpayer_id"]] in headline and r[at["tax_period"]] == "201812")
    row[at["amount"]] = str(Decimal(row[at["amount"]]) + by)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([header, *rows[1:]])
    write(landing, "tax_payment", "201812", out.getvalue())
    return row[at["taxpayer_id"]], "2018-12-01", row[at["voucher_no"]]


def test_a_corrected_delivery_after_publishing_is_a_revision_naming_its_month(laiou_env, small_landing, capsys):
    landing = laiou_env["landing"]
    shutil.copytree(small_landing, landing)
    assert run_everything() == 0
    assert publish(2017) == 2  # a year with no data: one clear line, nothing published
    assert "2017 has no figures to publish; the marts hold 2018–2018" in capsys.readouterr().err
    assert sql("select count(*) from marts.published_figures") == [(0,)]

    assert publish(2018) == 0
    splits = sum(
        sql(f"select count(*) from marts.{mart} where year = 2018")[0][0]
        for mart in ("mart_laiou_by_province_year", "mart_laiou_by_district_year", "mart_laiou_by_industry_year")
    )
    frozen = sql("select count(*), count(distinct publication_id) from marts.published_figures where year = 2018")
    assert frozen == [(6 + splits * MEASURES, 1)]  # the summary's six figures and every split's nine
    tax_wan, cumulative = sql("select tax_wan, cumulative from marts.mart_laiou_summary_year where year = 2018")[0]
    assert sql(
        "select measure, value from marts.published_figures where dimension = 'summary' "
        "and measure in ('tax_wan', 'cumulative') order by measure"
    ) == [("cumulative", cumulative), ("tax_wan", tax_wan)]
    built_from = sql("select distinct jsonb_array_length(built_from) from marts.published_figures")
    assert built_from == [(len(list(landing.glob("*/*/*.csv"))),)]  # every delivery it was built from
    assert sql("select count(*) from marts.figure_revisions") == [(0,)]

    # The tax bureau delivers 2018-12 again: one voucher of a 来沪 enterprise 1,000.00 元 higher.
    uscc, _, _ = correct_a_voucher(landing, Decimal("1000.00"))
    district, province = sql(
        "select district_code, source_province_code from marts.dim_enterprise where uscc = %s", [uscc]
    )[0]
    assert run_everything() == 0
    revisions = {
        (dimension, member, measure): (published, current, change, months)
        for dimension, member, measure, published, current, change, months in sql(
            "select dimension, member_code, measure, published_value, current_value, change, redelivered_months "
            "from marts.figure_revisions where year = 2018"
        )
    }
    tax_changes = {key[:2]: value[2] for key, value in revisions.items() if key[2] == "tax_wan"}
    assert tax_changes == {  # 0.1 万元 more in the summary, the enterprise's province, district and section
        ("summary", ""): Decimal("0.1"),
        ("province", province): Decimal("0.1"),
        ("district", district): Decimal("0.1"),
        ("industry", sql("select industry_section from marts.dim_enterprise where uscc = %s", [uscc])[0][0]): (
            Decimal("0.1")
        ),
    }
    summary = revisions[("summary", "", "tax_wan")]
    assert summary[0] == tax_wan and summary[1] == tax_wan + Decimal("0.1")
    assert {months for *_, months in revisions.values()} == {"tax_payment 2018-12 (redelivered 重新交付)"}
    report = settings.laiou_home() / "reports" / "2018-12" / "inspection_2018-12.md"  # the inspection report
    assert run_everything(operations=True) == 0  # lists them
    text = report.read_text(encoding="utf-8")
    assert f"Published years (2018): {len(revisions)} figures differ from their latest publication" in text
    assert "| 2018 | summary tax_wan | 全市 / all Shanghai |" in text

    # Publishing again adds a publication; the first is kept, and the revisions compare with the latest.
    assert publish(2018) == 0
    assert sql("select count(distinct publication_id) from marts.published_figures where year = 2018") == [(2,)]
    assert sql(
        "select count(*) from marts.published_figures where year = 2018 and dimension = 'summary' "
        "and measure = 'tax_wan' and value = %s",
        [tax_wan],
    ) == [(1,)]
    assert sql("select count(*) from marts.figure_revisions") == [(0,)]
