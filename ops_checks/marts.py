"""守恒 / conservation between the layers: tax that enters staging reaches the marts, nothing silently dropped.

Four equalities, each by tax year (R12), each reported with both sides:
1. every staged voucher is in int_tax_vouchers_resolved (R9 resolution drops none), same count and amount;
2. the counted tax (R12, intermediate.int_tax_counted, read from the resolved vouchers) equals
   marts.fct_tax_monthly;
3. mart_laiou_summary_year.tax_wan equals that tax in 万元, for the summary's years (they start at the
   first delivered month, warehouse.md: tax periods before it are in fct_tax_monthly only, and reported);
4. the province, district and industry marts add up to the summary's tax_wan.
"""

import dagster as dg

from laiou_assets import health
from laiou_assets.keys import TAX_FACTS
from laiou_assets.resources import WarehouseResource
from ops_checks.runbook import Finding, check_result

LAYERS_SQL = """
with staged as (
    select extract(year from tax_month)::int as year, count(*) as n, sum(amount_yuan) as yuan
    from staging.stg_feeds__tax_vouchers group by 1
),
resolved as (
    select extract(year from tax_month)::int as year, count(*) as n, sum(amount_yuan) as yuan
    from intermediate.int_tax_vouchers_resolved group by 1
),
laiou as (  -- the counted tax, as R12 decides it once (intermediate.int_tax_counted)
    select extract(year from tax_month)::int as year, sum(amount_yuan) as yuan
    from intermediate.int_tax_counted group by 1
),
facts as (
    select extract(year from tax_month)::int as year, sum(amount_yuan) as yuan from marts.fct_tax_monthly group by 1
),
summary as (select year, tax_wan from marts.mart_laiou_summary_year),
by_province as (select year, sum(tax_wan) as wan, count(*) as n from marts.mart_laiou_by_province_year group by 1),
by_district as (select year, sum(tax_wan) as wan, count(*) as n from marts.mart_laiou_by_district_year group by 1),
by_industry as (select year, sum(tax_wan) as wan, count(*) as n from marts.mart_laiou_by_industry_year group by 1),
years as (
    select year from staged union select year from resolved union select year from facts
    union select year from summary where tax_wan <> 0
)
select years.year,
       coalesce(staged.n, 0), coalesce(staged.yuan, 0), coalesce(resolved.n, 0), coalesce(resolved.yuan, 0),
       coalesce(laiou.yuan, 0), coalesce(facts.yuan, 0), summary.tax_wan,
       coalesce(by_province.wan, 0), coalesce(by_province.n, 0), coalesce(by_district.wan, 0),
       coalesce(by_district.n, 0), coalesce(by_industry.wan, 0), coalesce(by_industry.n, 0)
from years
left join staged using (year) left join resolved using (year) left join laiou using (year)
left join facts using (year) left join summary using (year) left join by_province using (year)
left join by_district using (year) left join by_industry using (year)
order by years.year
"""


# Staging is a view of the raw feeds: after a tax delivery loaded since the resolved vouchers were built
# (post-hook `analyze`), the two do not describe the same data until the next build, which compares them.
UNBUILT_LOAD_SQL = """
select l.finished_at, s.last_analyze
from (select max(finished_at) as finished_at from audit.load_log where feed = 'tax_payment' and outcome = 'loaded') l,
     pg_stat_user_tables s
where s.schemaname = 'intermediate' and s.relname = 'int_tax_vouchers_resolved'
  and (l.finished_at > s.last_analyze or s.last_analyze is null)  -- statistics reset (a crash, a restore)
"""


def tax_conserved(conn) -> Finding:
    problems, per_year, outside = [], [], 0
    unbuilt = conn.execute(UNBUILT_LOAD_SQL).fetchone() if health.table_exists(conn, "audit.load_log") else None
    for row in conn.execute(LAYERS_SQL):
        year, staged_n, staged, resolved_n, resolved, laiou, facts, summary_wan, *splits = row
        per_year.append(
            {
                "year": year,
                "staged_vouchers": staged_n,
                "staged_yuan": str(staged),
                "laiou_yuan_intermediate": str(laiou),
                "fct_tax_monthly_yuan": str(facts),
                "summary_tax_wan": str(summary_wan)
                if summary_wan is not None
                else "no row (before the first delivery)",
            }
        )
        if (staged_n, staged) != (resolved_n, resolved) and not unbuilt:
            problems.append(f"{year}: staging {staged_n} vouchers {staged} 元, resolved {resolved_n} / {resolved} 元")
        if laiou != facts:
            problems.append(f"{year}: 来沪 tax {laiou} 元 in intermediate, {facts} 元 in fct_tax_monthly")
        if summary_wan is None:  # warehouse.md: the yearly marts' years start at the first delivered month
            outside += laiou
            continue
        if round(laiou / 10000, 6) != summary_wan:
            problems.append(f"{year}: summary tax_wan {summary_wan}, 来沪 tax is {round(laiou / 10000, 6)} 万元")
        for name, (wan, rows) in zip(
            ("province", "district", "industry"), zip(splits[::2], splits[1::2], strict=True), strict=True
        ):
            # each row is rounded to 6 places: the sum may differ from the total by half a unit per row
            if abs(wan - summary_wan) > rows * 0.0000005:
                problems.append(f"{year}: by_{name} marts add up to {wan} 万元, the summary says {summary_wan}")
    facts = {
        "years": len(per_year),
        # tax periods before the first delivered month (a January delivery's December vouchers): in
        # fct_tax_monthly, in no yearly mart (warehouse.md)
        "laiou_tax_yuan_of_years_before_the_marts": str(outside),
        "problem": "; ".join(problems) or None,
        "staged_vs_resolved": (
            f"not compared: a tax delivery loaded at {unbuilt[0]:%Y-%m-%d %H:%M:%S %Z} after the resolved vouchers "
            f"were built ({f'{unbuilt[1]:%Y-%m-%d %H:%M:%S %Z}' if unbuilt[1] else 'when, unknown'}); the build that "
            "follows compares them"
            if unbuilt
            else "compared"
        ),
    }
    return Finding(not problems, facts, per_year)


@dg.asset_check(
    asset=TAX_FACTS,
    name="tax_conserved_across_layers",
    description=(
        "守恒 / by tax year: staged vouchers = resolved vouchers; 来沪 tax in intermediate = fct_tax_monthly = "
        "summary tax_wan; province, district and industry marts add up to the summary (R12). ERROR."
    ),
)
def conservation_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        finding = tax_conserved(conn)
    return check_result("tax_conserved_across_layers", dg.AssetCheckSeverity.ERROR, {"all": finding})
