-- 发布数据 / the figures `laiou publish --year YYYY` froze: that year's summary, province, district and industry
-- figures as they stood, with the publication (dbt's invocation), its time, the Dagster run and the
-- deliveries they were built from. Append-only (incremental): a run without the var publish_year adds
-- nothing, publishing a year again adds a publication and never changes an earlier one; a full refresh
-- (`--full-refresh`) leaves it as it is (full_refresh=false): the publications are not rebuilt from data.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail', full_refresh=false) }}

{%- set year = var('publish_year', none) %}

with figures as (
    {{ laiou_figures() }}
),

load_log as (
    select * from {{ source('audit', 'load_log') }}
),

deliveries as (  -- each feed month's delivery the marts were built from: its latest good load
    select
        jsonb_agg(
            jsonb_build_object('feed', feed, 'month', to_char(period, 'YYYY-MM'), 'sha256', sha256)
            order by feed, period
        ) as built_from
    from (
        select distinct on (feed, period) feed, period, sha256
        from load_log
        where outcome = 'loaded'
        order by feed, period, finished_at desc
    ) as latest
),

final as (
    select
        '{{ invocation_id }}'::text as publication_id,
        now()::timestamptz as published_at,
        '{{ var("dagster_run_id", "") }}'::text as dagster_run_id,
        figures.year::integer as year,
        concat_ws(' ', figures.dimension, nullif(figures.member_code, ''), figures.measure)::text as figure,
        figures.dimension::text as dimension,
        figures.member_code::text as member_code,
        figures.member_name::text as member_name,
        figures.measure::text as measure,
        figures.value::numeric as value,
        deliveries.built_from::jsonb as built_from
    from figures
    cross join deliveries
    where {% if year %}figures.year = {{ year | int }}{% else %}false{% endif %}
)

select * from final
