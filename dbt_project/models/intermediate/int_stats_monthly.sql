-- R13: monthly values of the statistics bureau's year-to-date figures. A month's value is ytd(m) − ytd(m−1)
-- in the same year, January's is ytd(1); when month m−1 of that year was not reported, month m's value is
-- null (not guessed). A month delivered again (a correction) counts at its latest delivery.
with reported as (
    select distinct on (uscc, month) *
    from {{ ref('stg_feeds__stats_indicators') }}
    order by uscc, month, delivery_period desc
),

with_previous as (
    select
        *,
        lag(month) over same_year as previous_month,
        lag(revenue_ytd_k) over same_year as previous_revenue_ytd_k,
        lag(profit_ytd_k) over same_year as previous_profit_ytd_k
    from reported
    window same_year as (partition by uscc, extract(year from month) order by month)
),

final as (
    select
        uscc,
        month,
        revenue_ytd_k,
        profit_ytd_k,
        employees,
        extract(month from month) = 1 or previous_month = (month - interval '1 month')::date as has_previous_month,
        case
            when extract(month from month) = 1 then revenue_ytd_k
            when previous_month = (month - interval '1 month')::date then revenue_ytd_k - previous_revenue_ytd_k
        end as revenue_month_k,
        case
            when extract(month from month) = 1 then profit_ytd_k
            when previous_month = (month - interval '1 month')::date then profit_ytd_k - previous_profit_ytd_k
        end as profit_month_k
    from with_previous
)

select * from final
