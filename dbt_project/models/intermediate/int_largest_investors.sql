-- R7: an enterprise's largest investor is its current investor with the largest subscribed_capital
-- (ties: lowest investor_seq). Incremental by enterprise like int_investors_current: a run decides again
-- only for the enterprises whose current list came, or whose held largest investor came, from a month of
-- investor lists loaded since it last read.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}{{ take_changed_keys('saic_shareholder', ref('int_investors_current'), seeds=[ref('ref_provinces')]) }}{% endif %}"
    ],
    post_hook=[
        "{{ ensure_index('uscc', unique=true) }}",
        "{{ ensure_index('delivery_period') }}",
        "{{ ensure_index('delivery_loaded_at') }}",
        "{{ note_seeds([ref('ref_provinces')]) }}",
    ],
) }}
-- depends_on: {{ ref('ref_provinces') }} (R5's provinces, through int_investors_current)

with investors as (
    select * from {{ ref('int_investors_current') }}
    {% if is_incremental() %}where uscc in (select uscc from {{ changed_keys() }}){% endif %}
),

final as (
    select distinct on (uscc)
        uscc,
        investor_seq,
        investor_type,
        investor_uscc,
        investor_country,
        investor_province_code,
        subscribed_capital,
        invest_date,
        delivery_period,
        delivery_loaded_at
    from investors
    order by uscc, subscribed_capital desc, investor_seq asc
)

select * from final
