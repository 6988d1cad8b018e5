-- Who is 来沪: direct (R7) and branch (R8) enterprises, their source province and laiou_since.
-- Indirect enterprises (R10) are not classified yet (laiou_kind stays null for them).
with enterprises as (
    select * from {{ ref('int_enterprises_current') }}
),

largest as (
    select * from {{ ref('int_largest_investors') }}
),

provinces as (
    select * from {{ ref('ref_provinces') }}
),

candidates as (
    select
        enterprises.*,
        largest.investor_province_code,
        largest.invest_date as largest_invest_date,
        parent.province_code as parent_province_code
    from enterprises
    left join largest on largest.uscc = enterprises.uscc and not enterprises.is_branch
    left join provinces as parent
        on enterprises.is_branch
        and {{ is_valid_uscc('enterprises.parent_uscc') }}
        and parent.province_code = {{ province_of('substr(enterprises.parent_uscc, 3, 2)') }}
        and parent.is_mainland
),

final as (
    select
        uscc, name, ent_type, is_branch, parent_uscc, reg_date, district_code, industry_code, reg_capital,
        status, status_date,
        case
            when not is_branch and investor_province_code <> '310000' then 'direct'  -- R7
            when is_branch and parent_province_code <> '310000' then 'branch'        -- R8
        end as laiou_kind,
        case
            when not is_branch and investor_province_code <> '310000' then investor_province_code
            when is_branch and parent_province_code <> '310000' then parent_province_code
        end as source_province_code,
        case
            -- R7: the largest investor's invest_date, but not before the enterprise's reg_date
            when not is_branch and investor_province_code <> '310000' then greatest(largest_invest_date, reg_date)
            -- R8: a branch's reg_date
            when is_branch and parent_province_code <> '310000' then reg_date
        end as laiou_since
    from candidates
)

select * from final
