-- 按行业大类 / headline 来沪 enterprises (R7, R8) by GB/T 4754-2017 division (R4) and year: R11–R14. Not in
-- warehouse.md: an addition for the 行业 dashboard, where a district reader sees every aggregate whole.
with enterprise_years as (
    select * from {{ ref('int_laiou_enterprise_years') }}
),

sections as (
    select distinct section_code, section_name from {{ ref('ref_industry_sections') }}
),

final as (
    select
        enterprise_years.year::integer as year,
        enterprise_years.industry_division::text as industry_division,
        enterprise_years.industry_section::text as industry_section,
        sections.section_name::text as section_name,
        {{ laiou_measures() }}
    from enterprise_years
    left join sections on sections.section_code = enterprise_years.industry_section
    group by enterprise_years.year, enterprise_years.industry_division, enterprise_years.industry_section,
        sections.section_name
)

select * from final
