-- The years the marts report: from the first delivered month to the last, of any feed (warehouse.md).
with delivered as (
    {% for model in ['stg_feeds__enterprise_records', 'stg_feeds__shareholder_records',
                     'stg_feeds__tax_vouchers', 'stg_feeds__stats_indicators'] %}
    select min(delivery_period) as first_period, max(delivery_period) as last_period from {{ ref(model) }}
    {{ 'union all' if not loop.last }}
    {% endfor %}
),

final as (
    select generate_series(
        (select extract(year from min(first_period)) from delivered)::integer,
        (select extract(year from max(last_period)) from delivered)::integer
    ) as year
)

select * from final
