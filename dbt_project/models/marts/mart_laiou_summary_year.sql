-- Headline figures by year (R11, R12): direct (R7) and branch (R8) enterprises. Indirect (R10) is reported
-- beside them (indirect_cumulative), never inside. Years run from the first delivered month to the last.
with years as (
    select * from {{ ref('int_delivered_years') }}
),

enterprise_years as (
    select * from {{ ref('int_laiou_enterprise_years') }}
),

indirect as (
    select laiou_since from {{ ref('dim_enterprise') }}
    where laiou_kind = 'indirect'
),

measures as (
    select
        year,
        count(*) filter (where is_cumulative) as cumulative,
        count(*) filter (where is_active) as active,
        count(*) filter (where is_new) as new,
        count(*) filter (where is_exited) as exited,
        sum(tax_yuan) as tax_yuan
    from enterprise_years
    group by year
),

final as (
    select
        years.year::integer as year,
        coalesce(measures.cumulative, 0)::bigint as cumulative,
        coalesce(measures.active, 0)::bigint as active,
        coalesce(measures.new, 0)::bigint as new,
        coalesce(measures.exited, 0)::bigint as exited,
        round(coalesce(measures.tax_yuan, 0) / 10000, 6)::numeric(24, 6) as tax_wan,
        (
            select count(*) from indirect where indirect.laiou_since <= make_date(years.year, 12, 31)
        )::bigint as indirect_cumulative
    from years
    left join measures on measures.year = years.year
)

select * from final
