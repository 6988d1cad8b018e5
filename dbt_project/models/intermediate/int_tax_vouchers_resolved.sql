-- Each voucher once is enforced by a unique index: building it sorts one column, where a uniqueness test
-- would aggregate all 29 million rows again (seed scale: 21 s against 100 s). A duplicate fails the build
-- naming the voucher. The index is unnamed so that it never clashes with the previous table's, which dbt
-- drops only after the swap.
{{ config(post_hook="create unique index on {{ this }} (voucher_no)") }}

-- R9: vouchers attributed to an enterprise. An 18-character taxpayer_id is the USCC; a 15-character legacy
-- 税务登记号 belongs to the enterprise whose USCC positions 9-17 equal its organisation code, when exactly
-- one enterprise matches (otherwise unresolved: enterprise_uscc is null).
with vouchers as (
    select * from {{ ref('stg_feeds__tax_vouchers') }}
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
        vouchers.*,
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
