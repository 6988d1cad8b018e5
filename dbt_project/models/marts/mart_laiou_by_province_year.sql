-- 按来源省份 / headline 来沪 enterprises (R7, R8) by source province and year: R11, R12, R13, R14.
with enterprise_years as (
    select * from {{ ref('int_laiou_enterprise_years') }}
),

provinces as (
    select * from {{ ref('ref_provinces') }}
),

measures as (
    select
        year,
        source_province_code,
        {{ laiou_measures() }}
    from enterprise_years
    group by year, source_province_code
),

final as (
    select
        measures.year::integer as year,
        measures.source_province_code::text as source_province_code,
        provinces.province_name::text as source_province_name,
        measures.cumulative, measures.active, measures.new, measures.exited, measures.reg_capital_wan,
        measures.tax_wan, measures.tax_share, measures.revenue_k, measures.employees
    from measures
    left join provinces on provinces.province_code = measures.source_province_code
)

select * from final
