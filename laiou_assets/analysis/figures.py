"""统计分析: the figures of the annual report and the monthly bulletin, every one read from `marts`.

The yearly marts give the year's figures (R11–R15); the monthly bulletin counts from dim_enterprise's
laiou_since and the tax facts' months, the marts' own grain for a month. Nothing here classifies again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from laiou_assets import health

SPLITS = {  # dimension → (mart, code column, name column)
    "province": ("mart_laiou_by_province_year", "source_province_code", "source_province_name"),
    "district": ("mart_laiou_by_district_year", "district_code", "district_name"),
    "industry": ("mart_laiou_by_industry_year", "industry_section", "section_name"),
}
HEADLINE = ("cumulative", "active", "new", "exited", "tax_wan", "indirect_cumulative")


class NoData(Exception):
    """The year or month asked for has no figures in the marts: one line says which years or months do."""


@dataclass
class AnnualFigures:
    year: int
    headline: dict  # HEADLINE of the year
    previous: dict | None  # of the year before, when the marts have it
    splits: dict[str, list[dict]]  # dimension → rows, largest tax first, with growth of cumulative
    divisions: list[dict]  # industry divisions (the class code's first two digits), most active first
    concentration: dict  # tax of the top 1 % and 10 % of the enterprises that paid tax
    statistics: dict  # revenue (千元) and employees over the provinces' rows (R13)
    investors: list[dict]  # the largest investors of the year (R15), with a valid USCC
    investors_by_district: list[dict]  # each district's largest investor now (dim_enterprise, R15)
    revisions: list[dict] | None = None  # None: the year was never published
    last_tax_delivery: date | None = None


@dataclass
class MonthlyFigures:
    month: date
    new: int  # headline enterprises whose laiou_since is in the month (R11)
    new_ytd: int
    cumulative: int  # at the month's end
    tax_wan_month: float
    tax_wan_ytd: float
    tax_wan_ytd_before: float | None  # the same months of the year before
    provinces: list[dict]  # year-to-date tax by source province, largest first
    districts: list[dict]
    revisions: list[dict] | None = None
    last_tax_delivery: date | None = None


def _rows(conn, sql: str, params=None) -> list[dict]:
    cur = conn.execute(sql, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def years_in_marts(conn) -> list[int]:
    if not health.table_exists(conn, "marts.mart_laiou_summary_year"):
        return []
    return [y for (y,) in conn.execute("select year from marts.mart_laiou_summary_year order by year")]


def deliveries(conn) -> tuple[date | None, date | None]:
    """The first delivered month and the last tax delivery (audit.load_log): a month's vouchers arrive mostly
    with the next month's delivery, so the last tax month is incomplete until then."""
    if not health.table_exists(conn, "audit.load_log"):
        return None, None
    return conn.execute(
        "select min(period), max(period) filter (where feed = 'tax_payment') from audit.load_log "
        "where outcome = 'loaded'"
    ).fetchone()


def revisions(conn, year: int) -> list[dict] | None:
    """The year's published figures that changed since their latest publication (marts.figure_revisions),
    the summary first; None when the year was never published."""
    if not health.table_exists(conn, "marts.published_figures"):
        return None
    if not conn.execute("select 1 from marts.published_figures where year = %s limit 1", [year]).fetchone():
        return None
    return _rows(
        conn,
        """select dimension, member_name, measure, published_value, current_value, change, redelivered_months
           from marts.figure_revisions where year = %s
           order by array_position(array['summary', 'province', 'district', 'industry'], dimension), member_code,
                    measure""",
        [year],
    )


def annual(conn, year: int) -> AnnualFigures:
    years = years_in_marts(conn)
    if year not in years:
        held = f"the marts hold {years[0]}–{years[-1]}" if years else "the marts are not built"
        raise NoData(f"{year}: no figures in the marts; {held}")
    summary = {
        r["year"]: r for r in _rows(conn, f"select year, {', '.join(HEADLINE)} from marts.mart_laiou_summary_year")
    }
    splits = {}
    for dimension, (mart, code, name) in SPLITS.items():
        splits[dimension] = _rows(
            conn,
            f"""select now.{code} as code, now.{name} as name, now.cumulative, now.active, now.new, now.exited,
                       now.tax_wan, now.tax_share, now.revenue_k, now.employees, before.cumulative as cumulative_before
                from marts.{mart} now
                left join marts.{mart} before on before.{code} = now.{code} and before.year = now.year - 1
                where now.year = %s order by now.tax_wan desc, now.{code}""",
            [year],
        )
    return AnnualFigures(
        year=year,
        headline=summary[year],
        previous=summary.get(year - 1),
        splits=splits,
        divisions=_rows(
            conn,
            """select substr(industry_code, 1, 2) as division, min(industry_section) as section, count(*) as enterprises
               from marts.dim_enterprise
               where laiou_kind in ('direct', 'branch') and laiou_since <= make_date(%s, 12, 31)
               group by 1 order by 3 desc, 1 limit 10""",
            [year],
        ),
        concentration=_concentration(conn, year),
        statistics=_rows(
            conn,
            "select sum(revenue_k) as revenue_k, sum(employees) as employees from marts.mart_laiou_by_province_year "
            "where year = %s",
            [year],
        )[0],
        investors=_rows(
            conn,
            """select investor_name, source_province_name, cumulative, active, districts_active, tax_wan
               from marts.mart_laiou_by_investor_year where year = %s and investor_uscc is not null
               order by cumulative desc, tax_wan desc, investor_uscc limit 10""",
            [year],
        ),
        investors_by_district=_rows(
            conn,
            """select distinct on (district_code) district_name, investor_name, n as enterprises
               from (select district_code, district_name, investor_uscc, investor_name, count(*) as n
                     from marts.dim_enterprise
                     where laiou_kind in ('direct', 'branch') and investor_uscc is not null and status = '1'
                     group by 1, 2, 3, 4) by_investor
               order by district_code, n desc, investor_uscc""",
        ),
        revisions=revisions(conn, year),
        last_tax_delivery=deliveries(conn)[1],
    )


def _concentration(conn, year: int) -> dict:
    """The share of the year's tax paid by the top 1 % and 10 % of the enterprises with tax in the year
    (at least one enterprise each), largest first."""
    paid = [
        float(t)
        for (t,) in conn.execute(
            """select sum(amount_yuan) from marts.fct_tax_monthly
               where tax_month between make_date(%s, 1, 1) and make_date(%s, 12, 1)
               group by uscc having sum(amount_yuan) <> 0 order by 1 desc""",
            [year, year],
        )
    ]
    total = sum(paid)
    out = {"enterprises": len(paid), "tax_wan": total / 10000}
    for share in (1, 10):
        top = max(1, math.ceil(len(paid) * share / 100)) if paid else 0
        out[f"top{share}_enterprises"] = top
        out[f"top{share}_share"] = sum(paid[:top]) / total if total else None
    return out


def monthly(conn, month: date) -> MonthlyFigures:
    delivered = []
    if health.table_exists(conn, "marts.fct_tax_monthly"):
        delivered = [m for (m,) in conn.execute("select distinct tax_month from marts.fct_tax_monthly order by 1")]
    first_delivered, last_tax = deliveries(conn)
    if month not in delivered or first_delivered is None or not first_delivered <= month <= last_tax:
        held = (
            f"the deliveries run {first_delivered:%Y-%m}–{last_tax:%Y-%m}" if first_delivered else "nothing is loaded"
        )
        raise NoData(f"{month:%Y-%m}: not a delivered month; {held}")
    first, end = month.replace(month=1), _month_end(month)
    counts = conn.execute(
        """select count(*) filter (where laiou_since between %(start)s and %(end)s),
                  count(*) filter (where laiou_since between %(first)s and %(end)s),
                  count(*) filter (where laiou_since <= %(end)s)
           from marts.dim_enterprise where laiou_kind in ('direct', 'branch')""",
        {"start": month, "end": end, "first": first},
    ).fetchone()
    tax = """select coalesce(sum(amount_yuan), 0) / 10000 from marts.fct_tax_monthly
             where tax_month between %s and %s"""
    before = month.replace(year=month.year - 1)
    has_before = before.replace(month=1) in delivered or before in delivered
    by = """select {name} as name, sum(f.amount_yuan) / 10000 as tax_wan, count(distinct f.uscc) as enterprises
            from marts.fct_tax_monthly f join marts.dim_enterprise d using (uscc)
            where f.tax_month between %s and %s group by 1 order by 2 desc, 1 limit {limit}"""
    return MonthlyFigures(
        month=month,
        new=counts[0],
        new_ytd=counts[1],
        cumulative=counts[2],
        tax_wan_month=float(conn.execute(tax, [month, month]).fetchone()[0]),
        tax_wan_ytd=float(conn.execute(tax, [first, month]).fetchone()[0]),
        tax_wan_ytd_before=float(conn.execute(tax, [before.replace(month=1), before]).fetchone()[0])
        if has_before
        else None,
        provinces=_rows(conn, by.format(name="d.source_province_name", limit=10), [first, month]),
        districts=_rows(conn, by.format(name="d.district_name", limit=16), [first, month]),
        revisions=revisions(conn, month.year),
        last_tax_delivery=last_tax,
    )


def _month_end(month: date) -> date:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)
