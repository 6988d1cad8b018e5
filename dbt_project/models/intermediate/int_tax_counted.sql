-- 计入税收 / R12, the one place it is decided which tax counts: every resolved voucher (each once, at its
-- earliest delivery, refunds included) of a headline 来沪 enterprise (direct R7 or branch R8) whose tax
-- month is not before the month of its laiou_since. A view: the monthly tax facts read one window of it,
-- the yearly model all of it.
{{ config(materialized='view') }}

with vouchers as (
    select * from {{ ref('int_tax_vouchers_resolved') }}
),

enterprises as (
    select uscc, laiou_since from {{ ref('int_enterprises_laiou') }}
    where is_headline
),

final as (
    select
        vouchers.voucher_no,
        vouchers.enterprise_uscc as uscc,
        vouchers.tax_month,
        vouchers.tax_type,
        vouchers.amount_yuan
    from vouchers
    inner join enterprises on enterprises.uscc = vouchers.enterprise_uscc
    where vouchers.tax_month >= date_trunc('month', enterprises.laiou_since)
)

select * from final
