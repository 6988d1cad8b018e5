-- 税收事实表 / R12: the counted tax (int_tax_counted) by enterprise × tax_period month × tax type, in 元. Incremental by month: a run rebuilds the tax months between LAIOU_DBT_TAX_FROM and LAIOU_DBT_TAX_TO (macro tax_window)
-- (Dagster passes a partition's window; without vars, every month). The window is applied whether or not
-- the table exists yet, so a first run over one month builds exactly that month.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}delete from {{ this }} where {{ tax_window('tax_month') }}{% endif %}"
    ],
    post_hook=[
        "{{ ensure_index('tax_month') }}"
    ],
) }}

with counted as (
    select * from {{ ref('int_tax_counted') }}
    where {{ tax_window('tax_month') }}
),

final as (
    select
        counted.uscc::text as uscc,
        counted.tax_month::date as tax_month,
        counted.tax_type::text as tax_type,
        sum(counted.amount_yuan)::numeric(20, 2) as amount_yuan,
        count(*)::bigint as voucher_count
    from counted
    group by 1, 2, 3
)

select * from final
