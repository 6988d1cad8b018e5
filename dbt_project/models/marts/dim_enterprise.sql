-- One row per Shanghai enterprise with its 来沪 classification (warehouse.md): R7, R8 and R10, as
-- int_enterprises_laiou decided it, with the names of its district and source province, the level-1
-- enterprise an indirect one is 来沪 through and its investor (R15, int_laiou_investors).
with enterprises as (
    select * from {{ ref('int_enterprises_laiou') }}
),

investors as (
    select * from {{ ref('int_laiou_investors') }}
),

districts as (
    select * from {{ ref('ref_districts') }}
),

provinces as (
    select * from {{ ref('ref_provinces') }}
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
        enterprises.industry_section::text as industry_section,
        enterprises.reg_date::date as reg_date,
        enterprises.reg_capital::numeric(18, 2) as reg_capital_wan,
        enterprises.status::text as status,
        enterprises.status_date::date as status_date,
        enterprises.laiou_kind::text as laiou_kind,
        enterprises.laiou_level::integer as laiou_level,
        enterprises.source_province_code::text as source_province_code,
        provinces.province_name::text as source_province_name,
        enterprises.laiou_since::date as laiou_since,
        enterprises.root_uscc::text as laiou_root_uscc,
        enterprises.chain::text as laiou_chain,
        investors.investor_uscc::text as investor_uscc,
        investors.investor_name::text as investor_name
    from enterprises
    left join investors on investors.uscc = enterprises.uscc
    left join districts on districts.district_code = enterprises.district_code
    left join provinces on provinces.province_code = enterprises.source_province_code
)

select * from final
