-- The years the marts report: from the first delivered month to the last, of any feed (warehouse.md).
with loaded as (
    select * from {{ ref('stg_audit__loaded_months') }}
),

final as (
    select generate_series(
        (select extract(year from min(delivery_period)) from loaded)::integer,
        (select extract(year from max(delivery_period)) from loaded)::integer
    ) as year
)

select * from final
