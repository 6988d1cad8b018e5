-- R13: a year's revenue and profit are the YTD of its latest reported month (named beside them);
-- employees at year end are the December figure, else that of the latest month of the year.
with monthly as (
    select * from {{ ref('int_stats_monthly') }}
),

final as (
    select distinct on (uscc, extract(year from month))
        uscc,
        extract(year from month)::integer as year,
        month as latest_month,
        revenue_ytd_k as revenue_k,
        profit_ytd_k as profit_k,
        employees
    from monthly
    order by uscc, extract(year from month), month desc
)

select * from final
