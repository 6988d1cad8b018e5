-- 税收事实表 / R12: tax of headline 来沪 enterprises (direct R7, branch R8) by enterprise × tax_period month ×
-- tax type, in 元: each voucher once (its earliest delivery), refunds included, not before the month of
-- laiou_since. Incremental by month: a run rebuilds the tax months between vars min_month and max_month
-- (Dagster passes a partition's window; without vars, every month). The window is applied whether or not
-- the table exists yet, so a first run over one month builds exactly that month.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}delete from {{ this }} where {{ tax_window('tax_month') }}{% endif %}"
    ],
) }}

with vouchers as (
    select * from {{ ref('int_tax_vouchers_resolved') }}
    where {{ tax_window('tax_month') }}
),

enterprises as (
    select uscc, laiou_since from {{ ref('dim_enterprise') }}
    where laiou_kind in ('direct', 'branch')
),

final as (
    select
        vouchers.enterprise_uscc::text as uscc,
        vouchers.tax_month::date as tax_month,
        vouchers.tax_type::text as tax_type,
        sum(vouchers.amount_yuan)::numeric(20, 2) as amount_yuan,
        count(*)::bigint as voucher_count
    from vouchers
    inner join enterprises on enterprises.uscc = vouchers.enterprise_uscc
    where vouchers.tax_month >= date_trunc('month', enterprises.laiou_since)
    group by 1, 2, 3
)

select * from final
