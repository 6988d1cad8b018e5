-- 按行业门类 / headline 来沪 enterprises (R7, R8) by GB/T 4754-2017 section (R4) and year: R11–R14.
with enterprise_years as (
    select * from {{ ref('int_laiou_enterprise_years') }}
),

sections as (
    select distinct section_code, section_name from {{ ref('ref_industry_sections') }}
),

measures as (
    select
        year,
        industry_section,
        {{ laiou_measures() }}
    from enterprise_years
    group by year, industry_section
),

final as (
    select
        measures.year::integer as year,
        measures.industry_section::text as industry_section,
        sections.section_name::text as section_name,
        measures.cumulative, measures.active, measures.new, measures.exited, measures.reg_capital_wan,
        measures.tax_wan, measures.tax_share, measures.revenue_k, measures.employees
    from measures
    left join sections on sections.section_code = measures.industry_section
)

select * from final
