-- R15 投资方: the investor of every 来沪 enterprise — of a direct one (R7) its largest investor, of a
-- branch (R8) its parent, of an indirect one (R10) the investor of its level-1 root. An investor is its
-- USCC when valid (R1); any other (natural persons, organisations without a USCC) is the NULL group
-- 其他投资者 of the enterprise's source province. Its name is the investor_name of its latest shareholder
-- row (record_date, ties: the later delivery, then the later line); a parent known only as a branch's
-- parent has none. Only organisations' names are read: a natural person's never reaches the marts.
with enterprises as (
    select * from {{ ref('int_enterprises_laiou') }}
    where laiou_kind is not null
),

largest as (
    select * from {{ ref('int_largest_investors') }}
),

organisations as (
    select * from {{ ref('stg_feeds__shareholder_records') }}
    where investor_type = 'E' and {{ is_valid_uscc('investor_uscc') }}
),

level_one as (
    select
        enterprises.uscc,
        case
            when enterprises.laiou_kind = 'branch' then enterprises.parent_uscc
            when largest.investor_type = 'E' and {{ is_valid_uscc('largest.investor_uscc') }}
                then largest.investor_uscc
        end as investor_uscc
    from enterprises
    left join largest on largest.uscc = enterprises.uscc
    where enterprises.laiou_level = 1
),

names as (
    select distinct on (investor_uscc)
        investor_uscc,
        investor_name
    from organisations
    order by investor_uscc, record_date desc, delivery_period desc, delivery_line desc
),

final as (
    select
        enterprises.uscc,
        enterprises.laiou_kind,
        enterprises.is_headline,
        enterprises.source_province_code,
        level_one.investor_uscc,
        case when level_one.investor_uscc is null then '其他投资者' else names.investor_name end as investor_name
    from enterprises
    inner join level_one on level_one.uscc = enterprises.root_uscc
    left join names on names.investor_uscc = level_one.investor_uscc
)

select * from final
