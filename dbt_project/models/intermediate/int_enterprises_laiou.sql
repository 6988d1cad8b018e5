-- 来沪分类 / every Shanghai enterprise's 来沪 classification, finished in one place: direct (R7) and branch
-- (R8) at level 1, indirect (R10) at its level, with the source province and laiou_since; is_headline marks
-- the headline population (R11: direct or branch). Also its industry section (R4). Marts and checks read
-- this model; none classifies again.
with classified as (
    select * from {{ ref('int_enterprises_classified') }}
),

indirect as (
    select * from {{ ref('int_enterprises_indirect') }}
),

sections as (
    select * from {{ ref('ref_industry_sections') }}
),

final as (
    select
        classified.uscc,
        classified.name,
        classified.ent_type,
        classified.is_branch,
        classified.parent_uscc,
        classified.reg_date,
        classified.district_code,
        classified.industry_code,
        sections.section_code as industry_section,
        classified.reg_capital,
        classified.status,
        classified.status_date,
        coalesce(classified.laiou_kind, case when indirect.uscc is not null then 'indirect' end) as laiou_kind,
        case when classified.laiou_kind is not null then 1 else indirect.laiou_level end as laiou_level,
        coalesce(classified.source_province_code, indirect.source_province_code) as source_province_code,
        coalesce(classified.laiou_since, indirect.laiou_since) as laiou_since,
        -- the level-1 enterprise a 来沪 enterprise is 来沪 through: itself, or an indirect one's root (R10, R15)
        case when classified.laiou_kind is not null then classified.uscc else indirect.root_uscc end as root_uscc,
        -- from that level-1 enterprise down to this one (R10): itself alone when direct or branch
        case when classified.laiou_kind is not null then classified.uscc else indirect.chain end as chain,
        coalesce(classified.laiou_kind in ('direct', 'branch'), false) as is_headline
    from classified
    left join indirect on indirect.uscc = classified.uscc
    left join sections
        on substr(classified.industry_code, 1, 2) between sections.division_from and sections.division_to
)

select * from final
