-- One row per investor of a delivered investor list; natural-person names stay out of the marts.
with source as (
    select * from {{ source('feeds', 'saic_shareholder') }}
),

final as (
    select
        uscc,
        investor_seq,
        investor_type,
        investor_name,
        investor_uscc,
        investor_country,
        investor_region_code,
        subscribed_capital,
        invest_date,
        record_date,
        _period as delivery_period,
        _line as delivery_line,
        _loaded_at as delivery_loaded_at
    from source
)

select * from final
