-- One row per delivered voucher line. A voucher delivered again in a later month is here twice; it counts
-- once, at its earliest delivery (feeds.md), in int_tax_vouchers.
with source as (
    select * from {{ source('feeds', 'tax_payment') }}
),

final as (
    select
        voucher_no,
        taxpayer_id,
        to_date(tax_period, 'YYYYMM') as tax_month,
        tax_type,
        amount as amount_yuan,
        paid_date,
        _period as delivery_period,
        _line as delivery_line,
        _loaded_at as delivery_loaded_at
    from source
)

select * from final
