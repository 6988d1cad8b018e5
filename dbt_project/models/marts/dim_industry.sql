-- 行业维表 / R4: every GB/T 4754-2017 class found in the registrations, with its division and section.
with classes as (
    select distinct industry_code from {{ ref('int_enterprises_current') }}
),

sections as (
    select * from {{ ref('ref_industry_sections') }}
),

final as (
    select
        classes.industry_code::text as industry_code,
        substr(classes.industry_code, 1, 2)::text as division_code,
        sections.section_code::text as section_code,
        sections.section_name::text as section_name
    from classes
    left join sections
        on substr(classes.industry_code, 1, 2) between sections.division_from and sections.division_to
)

select * from final
