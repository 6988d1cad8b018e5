-- R6: an enterprise's current record is its row with the latest record_date (ties: the later delivery).
-- Incremental by enterprise (#18): a run reads again only the enterprises with a record in a month loaded
-- since it last read (a new month or one delivered again; macro take_changed_keys), each from all its
-- records; the others are not read or written. A run with nothing new reads nothing.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}{{ take_changed_keys('saic_enterprise', ref('stg_feeds__enterprise_records'), seeds=[ref('ref_districts')]) }}{% endif %}"
    ],
    post_hook=[
        "{{ ensure_index('uscc', unique=true) }}",
        "{{ ensure_index('delivery_period') }}",
        "{{ ensure_index('delivery_loaded_at') }}",
        "{{ note_seeds([ref('ref_districts')]) }}",
    ],
) }}
-- depends_on: {{ ref('ref_districts') }} (R2's successors, through stg_feeds__enterprise_records)

with records as (
    select * from {{ ref('stg_feeds__enterprise_records') }}
    {% if is_incremental() %}where uscc in (select uscc from {{ changed_keys() }}){% endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by uscc order by record_date desc, delivery_period desc, delivery_line desc
        ) as recency
    from records
),

final as (
    select
        uscc, reg_no, name, ent_type, is_branch, parent_uscc, reg_date, district_code, district_code_recorded,
        industry_code, reg_capital, status, status_date, record_date, delivery_period, delivery_loaded_at
    from ranked
    where recency = 1
)

select * from final
