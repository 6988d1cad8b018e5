-- The delivery months each feed has loaded (an attempt with outcome `loaded`), from the load log: the
-- marts' years run from the first of them to the last (warehouse.md), found without reading the feeds.
with load_log as (
    select * from {{ source('audit', 'load_log') }}
),

final as (
    select distinct
        feed,
        period as delivery_period
    from load_log
    where outcome = 'loaded'
)

select * from final
