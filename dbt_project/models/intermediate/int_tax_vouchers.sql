-- 税票 / each voucher once, at its earliest delivery (feeds.md). Incremental by delivery month: a run reads
-- only the delivery months from the first one whose load it has not read yet (macro first_unread_delivery:
-- a new month, or a month delivered again), drops what it held from that month on and adds them again,
-- each voucher not already held from an earlier month. A run with nothing new reads nothing. The unique
-- index makes a voucher counted twice fail the build, naming it; the delivery-month index finds a month's
-- rows without reading the table, the tax-month index the first tax month (which tax facts a run refreshes).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}delete from {{ this }} where delivery_period >= {{ first_unread_delivery('tax_payment') }}{% endif %}"
    ],
    post_hook=[
        "{{ ensure_index('voucher_no', unique=true) }}",
        "{{ ensure_index('delivery_period') }}",
        "{{ ensure_index('tax_month') }}",
    ],
) }}

with delivered as (
    select * from {{ ref('stg_feeds__tax_vouchers') }}
    {% if is_incremental() %}where delivery_period >= {{ first_unread_delivery('tax_payment') }}{% endif %}
),

earliest as (
    select distinct on (voucher_no) *
    from delivered
    order by voucher_no, delivery_period, delivery_line
),

final as (
    select
        voucher_no,
        taxpayer_id,
        tax_month,
        tax_type,
        amount_yuan,
        paid_date,
        delivery_period,
        delivery_loaded_at
    from earliest
    {% if is_incremental() %}
    where not exists (select 1 from {{ this }} as held where held.voucher_no = earliest.voucher_no)
    {% endif %}
)

select * from final
