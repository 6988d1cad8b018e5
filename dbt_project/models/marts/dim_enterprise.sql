-- One row per Shanghai enterprise with its 来沪 classification (warehouse.md): R7, R8 and R10.
with classified as (
    select * from {{ ref('int_enterprises_classified') }}
),

indirect as (
    select * from {{ ref('int_enterprises_indirect') }}
),

-- Direct (R7) and branch (R8) at level 1, indirect (R10) at its level.
enterprises as (
    select
        classified.*,
        coalesce(classified.laiou_kind, case when indirect.uscc is not null then 'indirect' end) as kind,
        case when classified.laiou_kind is not null then 1 else indirect.laiou_level end as level,
        coalesce(classified.source_province_code, indirect.source_province_code) as province_code,
        coalesce(classified.laiou_since, indirect.laiou_since) as since
    from classified
    left join indirect on indirect.uscc = classified.uscc
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
        enterprises.kind::text as laiou_kind,
        enterprises.level::integer as laiou_level,
        enterprises.province_code::text as source_province_code,
        provinces.province_name::text as source_province_name,
        enterprises.since::date as laiou_since
    from enterprises
    left join districts on districts.district_code = enterprises.district_code
    left join provinces on provinces.province_code = enterprises.province_code
    left join sections
        on substr(enterprises.industry_code, 1, 2) between sections.division_from and sections.division_to
)

select * from final
