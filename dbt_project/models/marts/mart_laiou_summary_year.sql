-- Headline figures by year (R11, R12): direct (R7) and branch (R8) enterprises. Indirect (R10) is reported
-- beside them, never inside. Years run from the first delivered month to the last.
with enterprises as (
    select * from {{ ref('dim_enterprise') }}
    where laiou_kind in ('direct', 'branch')
),

vouchers as (
    select * from {{ ref('int_tax_vouchers_resolved') }}
),

delivered as (
    {% for model in ['stg_feeds__enterprise_records', 'stg_feeds__shareholder_records',
                     'stg_feeds__tax_vouchers', 'stg_feeds__stats_indicators'] %}
    select min(delivery_period) as first_period, max(delivery_period) as last_period from {{ ref(model) }}
    {{ 'union all' if not loop.last }}
    {% endfor %}
),

years as (
    select generate_series(
        (select extract(year from min(first_period)) from delivered)::integer,
        (select extract(year from max(last_period)) from delivered)::integer
    ) as year
),

counts as (
    select
        years.year,
        count(*) filter (where enterprises.laiou_since <= make_date(years.year, 12, 31)) as cumulative,
        count(*) filter (
            where enterprises.laiou_since <= make_date(years.year, 12, 31)
            and (enterprises.status = '1' or enterprises.status_date > make_date(years.year, 12, 31))
        ) as active,
        count(*) filter (where extract(year from enterprises.laiou_since) = years.year) as new,
        count(*) filter (
            where enterprises.status in ('2', '3', '4') and extract(year from enterprises.status_date) = years.year
        ) as exited
    from years
    cross join enterprises
    group by years.year
),

-- R12: vouchers of 来沪 enterprises whose tax_period is not before the month of laiou_since.
tax as (
    select
        extract(year from vouchers.tax_month)::integer as year,
        sum(vouchers.amount_yuan) as tax_yuan
    from vouchers
    inner join enterprises on enterprises.uscc = vouchers.enterprise_uscc
    where vouchers.tax_month >= date_trunc('month', enterprises.laiou_since)
    group by 1
),

final as (
    select
        years.year::integer as year,
        coalesce(counts.cumulative, 0)::bigint as cumulative,
        coalesce(counts.active, 0)::bigint as active,
        coalesce(counts.new, 0)::bigint as new,
        coalesce(counts.exited, 0)::bigint as exited,
        round(coalesce(tax.tax_yuan, 0) / 10000, 6)::numeric(24, 6) as tax_wan,
        null::bigint as indirect_cumulative
    from years
    left join counts on counts.year = years.year
    left join tax on tax.year = years.year
)

select * from final
