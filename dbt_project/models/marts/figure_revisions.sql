-- 修订 / every figure whose current value differs from its latest publication (published_figures), with the
-- deliveries loaded since that publication that changed the data: feed months delivered again (a different
-- file) or delivered for the first time. Rebuilt with the marts, so a redelivery shows here at once.
with published as (
    select * from {{ ref('published_figures') }}
),

latest as (  -- each year's latest publication
    select distinct on (year) year, publication_id, published_at, built_from
    from published
    order by year, published_at desc
),

published_figures as (
    select published.*
    from published
    inner join latest using (year, publication_id)
),

current_figures as (
    {{ laiou_figures() }}
),

load_log as (
    select * from {{ source('audit', 'load_log') }}
),

now_loaded as (
    select distinct on (feed, period) feed, to_char(period, 'YYYY-MM') as month, sha256
    from load_log
    where outcome = 'loaded'
    order by feed, period, finished_at desc
),

changed_since as (  -- per publication: the feed months whose delivery is not the one it was built from
    select
        latest.year,
        string_agg(
            now_loaded.feed || ' ' || now_loaded.month
            || case when was.sha256 is null then ' (new 新交付)' else ' (redelivered 重新交付)' end,
            ', ' order by now_loaded.month, now_loaded.feed
        ) as redelivered_months
    from latest
    cross join now_loaded
    left join lateral (
        select item ->> 'sha256' as sha256
        from jsonb_array_elements(latest.built_from) as item
        where item ->> 'feed' = now_loaded.feed and item ->> 'month' = now_loaded.month
    ) as was on true
    where was.sha256 is distinct from now_loaded.sha256
    group by latest.year
),

compared as (
    select
        coalesce(p.year, c.year) as year,
        coalesce(p.dimension, c.dimension) as dimension,
        coalesce(p.member_code, c.member_code) as member_code,
        coalesce(c.member_name, p.member_name) as member_name,
        coalesce(p.measure, c.measure) as measure,
        p.value as published_value,
        c.value as current_value
    from published_figures as p
    full join (
        select * from current_figures where year in (select year from latest)
    ) as c
        on c.year = p.year and c.dimension = p.dimension and c.member_code = p.member_code and c.measure = p.measure
    -- at the precision the office publishes: shares as percentages with two decimals, the rest as they are
    where round(p.value, case when coalesce(p.measure, c.measure) = 'tax_share' then 4 else 6 end)
        is distinct from round(c.value, case when coalesce(p.measure, c.measure) = 'tax_share' then 4 else 6 end)
),

final as (
    select
        compared.year::integer as year,
        concat_ws(' ', compared.dimension, nullif(compared.member_code, ''), compared.measure)::text as figure,
        compared.dimension::text as dimension,
        compared.member_code::text as member_code,
        compared.member_name::text as member_name,
        compared.measure::text as measure,
        latest.publication_id::text as publication_id,
        latest.published_at::timestamptz as published_at,
        compared.published_value::numeric as published_value,
        compared.current_value::numeric as current_value,
        (coalesce(compared.current_value, 0) - coalesce(compared.published_value, 0))::numeric as change,
        coalesce(changed_since.redelivered_months, '')::text as redelivered_months
    from compared
    inner join latest on latest.year = compared.year
    left join changed_since on changed_since.year = compared.year
)

select * from final
