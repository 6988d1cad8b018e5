-- 统计事实表 / R13: each reporting enterprise's statistics by month: the YTD figures as delivered and the
-- month's own value (null when the month before in the same year was not reported; never guessed).
with monthly as (
    select * from {{ ref('int_stats_monthly') }}
),

enterprises as (
    select uscc from {{ ref('dim_enterprise') }}
),

final as (
    select
        monthly.uscc::text as uscc,
        monthly.month::date as month,
        monthly.revenue_ytd_k::numeric(18, 2) as revenue_ytd_k,
        monthly.revenue_month_k::numeric(18, 2) as revenue_month_k,
        monthly.profit_ytd_k::numeric(18, 2) as profit_ytd_k,
        monthly.profit_month_k::numeric(18, 2) as profit_month_k,
        monthly.employees::integer as employees,
        monthly.has_previous_month::boolean as has_previous_month
    from monthly
    inner join enterprises on enterprises.uscc = monthly.uscc
)

select * from final
