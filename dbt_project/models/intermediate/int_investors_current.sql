-- R6: the current investor list is the whole list of the latest delivery (latest record_date, ties: the
-- later delivery). R5: each investor's province. Incremental by enterprise like int_enterprises_current: a
-- run reads again only the enterprises with a list in a month loaded since it last read, all their lists.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}{{ take_changed_keys('saic_shareholder', ref('stg_feeds__shareholder_records'), seeds=[ref('ref_provinces')]) }}{% endif %}"
    ],
    post_hook=[
        "{{ ensure_index('uscc') }}",
        "{{ ensure_index('delivery_period') }}",
        "{{ ensure_index('delivery_loaded_at') }}",
        "{{ note_seeds([ref('ref_provinces')]) }}",
    ],
) }}

with investors as (
    select * from {{ ref('stg_feeds__shareholder_records') }}
    {% if is_incremental() %}where uscc in (select uscc from {{ changed_keys() }}){% endif %}
),

provinces as (
    select * from {{ ref('ref_provinces') }}
),

latest_list as (
    select distinct on (uscc) uscc, delivery_period
    from investors
    order by uscc, record_date desc, delivery_period desc
),

current_list as (
    select investors.*
    from investors
    inner join latest_list using (uscc, delivery_period)
),

final as (
    select
        current_list.uscc,
        current_list.investor_seq,
        current_list.investor_type,
        current_list.investor_uscc,
        current_list.investor_country,
        current_list.investor_region_code,
        current_list.subscribed_capital,
        current_list.invest_date,
        current_list.record_date,
        current_list.delivery_period,
        current_list.delivery_loaded_at,
        current_list.investor_country = 'CHN' as is_domestic,
        -- R5: the region code when it is a valid mainland code, else (type E) positions 3-4 of a valid
        -- investor USCC when a mainland province; 100000 (national level) is no province.
        case
            when current_list.investor_country <> 'CHN' then null
            when by_region.province_code is not null then by_region.province_code
            when current_list.investor_type = 'E' and {{ is_valid_uscc('current_list.investor_uscc') }}
                then by_uscc.province_code
        end as investor_province_code
    from current_list
    left join provinces as by_region
        on current_list.investor_region_code ~ '^[0-9]{6}$'
        and by_region.province_code = {{ province_of('current_list.investor_region_code') }}
        and by_region.is_mainland
    left join provinces as by_uscc
        on by_uscc.province_code = {{ province_of('substr(current_list.investor_uscc, 3, 2)') }}
        and by_uscc.is_mainland
)

select * from final
