-- One row per headline 来沪 enterprise (direct R7 or branch R8) and year, with what each mart counts:
-- R11 (cumulative, active, new, exited at 31 December), R12 (the counted tax of int_tax_counted, by
-- tax_period year), R13 (revenue and year-end employees). Years run from the first
-- delivered month to the last (warehouse.md); the marts by year, province, district and section sum it.
with enterprises as (
    select * from {{ ref('int_enterprises_laiou') }}
    where is_headline
),

counted as (
    select * from {{ ref('int_tax_counted') }}
),

stats as (
    select * from {{ ref('int_stats_years') }}
),

years as (
    select * from {{ ref('int_delivered_years') }}
),

tax as (
    select
        uscc,
        extract(year from tax_month)::integer as year,
        sum(amount_yuan) as tax_yuan
    from counted
    group by 1, 2
),

enterprise_years as (
    select
        years.year,
        enterprises.uscc,
        enterprises.source_province_code,
        enterprises.district_code,
        enterprises.industry_section,
        substr(enterprises.industry_code, 1, 2) as industry_division,
        enterprises.laiou_since <= make_date(years.year, 12, 31) as is_cumulative,
        enterprises.laiou_since <= make_date(years.year, 12, 31)
            and (enterprises.status = '1' or enterprises.status_date > make_date(years.year, 12, 31)) as is_active,
        extract(year from enterprises.laiou_since) = years.year as is_new,
        enterprises.status in ('2', '3', '4') and extract(year from enterprises.status_date) = years.year as is_exited,
        enterprises.reg_capital as reg_capital_wan
    from years
    cross join enterprises
),

final as (
    select
        enterprise_years.year,
        enterprise_years.uscc,
        enterprise_years.source_province_code,
        enterprise_years.district_code,
        enterprise_years.industry_section,
        enterprise_years.industry_division,
        enterprise_years.is_cumulative,
        enterprise_years.is_active,
        enterprise_years.is_new,
        enterprise_years.is_exited,
        case when enterprise_years.is_active then enterprise_years.reg_capital_wan end as active_reg_capital_wan,
        coalesce(tax.tax_yuan, 0) as tax_yuan,
        stats.revenue_k,
        stats.employees
    from enterprise_years
    left join tax on tax.uscc = enterprise_years.uscc and tax.year = enterprise_years.year
    left join stats on stats.uscc = enterprise_years.uscc and stats.year = enterprise_years.year
    where enterprise_years.is_cumulative or enterprise_years.is_exited
)

select * from final
