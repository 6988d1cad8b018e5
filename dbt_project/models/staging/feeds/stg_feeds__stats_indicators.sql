with source as (
    select * from {{ source('feeds', 'stats_indicator') }}
),

final as (
    select
        uscc,
        to_date(period, 'YYYYMM') as month,
        revenue_ytd as revenue_ytd_k,
        profit_ytd as profit_ytd_k,
        employees,
        _period as delivery_period
    from source
)

select * from final
