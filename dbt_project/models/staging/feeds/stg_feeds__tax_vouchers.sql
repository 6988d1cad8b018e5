-- Each voucher once: a voucher_no delivered again in a later month counts at its earliest delivery (feeds.md).
with source as (
    select * from {{ source('feeds', 'tax_payment') }}
),

ranked as (
    select
        *,
        row_number() over (partition by voucher_no order by _period, _line) as delivery_rank
    from source
),

final as (
    select
        voucher_no,
        taxpayer_id,
        to_date(tax_period, 'YYYYMM') as tax_month,
        tax_type,
        amount as amount_yuan,
        paid_date,
        _period as delivery_period
    from ranked
    where delivery_rank = 1
)

select * from final
