-- 按投资方 / 来沪 enterprises by investor and year (R15), for 招商引资: R11 counts, R12 tax and the active
-- districts over each investor's direct and branch enterprises, its indirect ones (R10) beside them. An
-- investor appears in a year once it has a cumulative enterprise of any kind by that year's end. The joins
-- are on investor_key, '' for the NULL group 其他投资者: an equality PostgreSQL can hash, where `is not
-- distinct from` compared every investor of a province and year with every other (hours at seed scale).
with investors as (
    select * from {{ ref('int_laiou_investors') }}
),

enterprise_years as (
    select * from {{ ref('int_laiou_enterprise_years') }}
),

enterprises as (
    select * from {{ ref('int_enterprises_laiou') }}
),

years as (
    select * from {{ ref('int_delivered_years') }}
),

provinces as (
    select * from {{ ref('ref_provinces') }}
),

headline as (
    select
        enterprise_years.year,
        investors.source_province_code,
        investors.investor_uscc,
        coalesce(investors.investor_uscc, '') as investor_key,
        count(*) filter (where enterprise_years.is_cumulative) as cumulative,
        count(*) filter (where enterprise_years.is_active) as active,
        count(*) filter (where enterprise_years.is_new) as new,
        count(*) filter (where enterprise_years.is_exited) as exited,
        count(distinct enterprise_years.district_code) filter (where enterprise_years.is_active) as districts_active,
        sum(enterprise_years.tax_yuan) as tax_yuan
    from enterprise_years
    inner join investors on investors.uscc = enterprise_years.uscc
    group by 1, 2, 3, 4
),

indirect as (
    select
        years.year,
        investors.source_province_code,
        investors.investor_uscc,
        coalesce(investors.investor_uscc, '') as investor_key,
        count(*) as indirect_cumulative
    from investors
    inner join enterprises on enterprises.uscc = investors.uscc
    inner join years on enterprises.laiou_since <= make_date(years.year, 12, 31)
    where investors.laiou_kind = 'indirect'
    group by 1, 2, 3, 4
),

names as (
    select distinct source_province_code, investor_uscc, coalesce(investor_uscc, '') as investor_key, investor_name
    from investors
),

final as (
    select
        coalesce(headline.year, indirect.year)::integer as year,
        names.investor_uscc::text as investor_uscc,
        names.investor_name::text as investor_name,
        names.source_province_code::text as source_province_code,
        provinces.province_name::text as source_province_name,
        coalesce(headline.cumulative, 0)::bigint as cumulative,
        coalesce(headline.active, 0)::bigint as active,
        coalesce(headline.new, 0)::bigint as new,
        coalesce(headline.exited, 0)::bigint as exited,
        coalesce(indirect.indirect_cumulative, 0)::bigint as indirect_cumulative,
        coalesce(headline.districts_active, 0)::bigint as districts_active,
        round(coalesce(headline.tax_yuan, 0) / 10000, 6)::numeric(24, 6) as tax_wan
    from headline
    full join indirect
        on indirect.year = headline.year
        and indirect.source_province_code = headline.source_province_code
        and indirect.investor_key = headline.investor_key
    inner join names
        on names.source_province_code = coalesce(headline.source_province_code, indirect.source_province_code)
        and names.investor_key = coalesce(headline.investor_key, indirect.investor_key)
    left join provinces on provinces.province_code = names.source_province_code
    where coalesce(headline.cumulative, 0) + coalesce(indirect.indirect_cumulative, 0) > 0
)

select * from final
