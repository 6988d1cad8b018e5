-- R9: vouchers attributed to an enterprise. An 18-character taxpayer_id is the USCC; a 15-character legacy
-- 税务登记号 belongs to the enterprise whose USCC positions 9-17 equal its organisation code, when exactly
-- one enterprise matches (otherwise unresolved: enterprise_uscc is null). A view: the enterprises change
-- with every delivery, the vouchers (int_tax_vouchers) only by the months added, so the attribution is made
-- where it is read and never goes stale.
{{ config(materialized='view') }}

with vouchers as (
    select * from {{ ref('int_tax_vouchers') }}
),

enterprises as (
    select uscc, substr(uscc, 9, 9) as org_code from {{ ref('int_enterprises_current') }}
),

org_codes as (
    select org_code, min(uscc) as uscc, count(*) as matches
    from enterprises
    group by org_code
),

final as (
    select
        vouchers.voucher_no,
        vouchers.taxpayer_id,
        vouchers.tax_month,
        vouchers.tax_type,
        vouchers.amount_yuan,
        vouchers.paid_date,
        vouchers.delivery_period,
        case
            when length(vouchers.taxpayer_id) = 18 then vouchers.taxpayer_id
            when org_codes.matches = 1 then org_codes.uscc
        end as enterprise_uscc,
        length(vouchers.taxpayer_id) = 15 as is_legacy_id
    from vouchers
    left join org_codes
        on length(vouchers.taxpayer_id) = 15 and org_codes.org_code = substr(vouchers.taxpayer_id, 7, 9)
)

select * from final
