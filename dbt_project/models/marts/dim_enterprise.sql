-- One row per Shanghai enterprise with its 来沪 classification (warehouse.md).
with enterprises as (
    select * from {{ ref('int_enterprises_classified') }}
),

districts as (
    select * from {{ ref('ref_districts') }}
),

provinces as (
    select * from {{ ref('ref_provinces') }}
),

sections as (
    select * from {{ ref('ref_industry_sections') }}
),

final as (
    select
        enterprises.uscc::text as uscc,
        enterprises.name::text as name,
        enterprises.ent_type::text as ent_type,
        enterprises.is_branch::boolean as is_branch,
        enterprises.district_code::text as district_code,
        districts.district_name::text as district_name,
        enterprises.industry_code::text as industry_code,
        sections.section_code::text as industry_section,
        enterprises.reg_date::date as reg_date,
        enterprises.reg_capital::numeric(18, 2) as reg_capital_wan,
        enterprises.status::text as status,
        enterprises.status_date::date as status_date,
        enterprises.laiou_kind::text as laiou_kind,
        (case when enterprises.laiou_kind is not null then 1 end)::integer as laiou_level,
        enterprises.source_province_code::text as source_province_code,
        provinces.province_name::text as source_province_name,
        enterprises.laiou_since::date as laiou_since
    from enterprises
    left join districts on districts.district_code = enterprises.district_code
    left join provinces on provinces.province_code = enterprises.source_province_code
    left join sections
        on substr(enterprises.industry_code, 1, 2) between sections.division_from and sections.division_to
)

select * from final
