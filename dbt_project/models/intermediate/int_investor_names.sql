-- R15 投资方名称: each organisation investor's name, that of its latest shareholder row (record_date, ties:
-- the later delivery, then the later line). Only organisations (type E with a valid USCC, R1) are read: a
-- natural person's name never reaches the marts. Incremental by investor (#18): a run reads again only the
-- investors named in a month of investor lists loaded since it last read, each from all its rows.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}{{ take_changed_keys('saic_shareholder', ref('stg_feeds__shareholder_records'), key='investor_uscc') }}{% endif %}"
    ],
    post_hook=[
        "{{ ensure_index('investor_uscc', unique=true) }}",
        "{{ ensure_index('delivery_period') }}",
        "{{ ensure_index('delivery_loaded_at') }}",
    ],
) }}

with organisations as (
    select * from {{ ref('stg_feeds__shareholder_records') }}
    where investor_type = 'E' and {{ is_valid_uscc('investor_uscc') }}
    {% if is_incremental() %}and investor_uscc in (select investor_uscc from {{ changed_keys() }}){% endif %}
),

final as (
    select distinct on (investor_uscc)
        investor_uscc,
        investor_name,
        delivery_period,
        delivery_loaded_at
    from organisations
    order by investor_uscc, record_date desc, delivery_period desc, delivery_line desc
)

select * from final
