-- 按区 / headline 来沪 enterprises (R7, R8) by current district (R2) and year: R11, R12, R13, R14.
with enterprise_years as (
    select * from {{ ref('int_laiou_enterprise_years') }}
),

districts as (
    select * from {{ ref('ref_districts') }}
),

measures as (
    select
        year,
        district_code,
        {{ laiou_measures() }}
    from enterprise_years
    group by year, district_code
),

final as (
    select
        measures.year::integer as year,
        measures.district_code::text as district_code,
        districts.district_name::text as district_name,
        measures.cumulative, measures.active, measures.new, measures.exited, measures.reg_capital_wan,
        measures.tax_wan, measures.tax_share, measures.revenue_k, measures.employees
    from measures
    left join districts on districts.district_code = measures.district_code
)

select * from final
