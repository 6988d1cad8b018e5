-- R10 再投资: a Shanghai enterprise that is not direct or branch 来沪, whose largest investor (R7) is a
-- Shanghai enterprise that is 来沪 (direct, branch or indirect), is indirect 来沪 one level below it. It
-- inherits that enterprise's source province; its laiou_since is the latest of its reg_date, that
-- investor's invest_date and that investor's laiou_since. Levels stop at 5. Every enterprise has one
-- largest investor, so an ownership cycle can only be reached from itself: its members never become
-- indirect through it (the path check makes that explicit and bounds the recursion regardless).
with recursive classified as (
    select * from {{ ref('int_enterprises_classified') }}
),

largest as (
    select * from {{ ref('int_largest_investors') }}
    where investor_uscc is not null
),

chain as (
    select
        uscc,
        source_province_code,
        1 as laiou_level,
        laiou_since,
        array[uscc] as path
    from classified
    where laiou_kind in ('direct', 'branch')

    union all

    select
        invested.uscc,
        chain.source_province_code,
        chain.laiou_level + 1 as laiou_level,
        greatest(invested.reg_date, largest.invest_date, chain.laiou_since) as laiou_since,
        chain.path || invested.uscc as path
    from chain
    inner join largest on largest.investor_uscc = chain.uscc
    inner join classified as invested
        on invested.uscc = largest.uscc
        and invested.laiou_kind is null
        and not invested.is_branch
    where chain.laiou_level < 5
        and not invested.uscc = any(chain.path)
),

final as (
    select
        uscc,
        source_province_code,
        laiou_level,
        laiou_since,
        path[1] as root_uscc,
        array_to_string(path, ' → ') as chain,
        path[laiou_level - 1] as investor_uscc
    from chain
    where laiou_level > 1
)

select * from final
