-- The last attempt to load each feed month (audit.load_log): what the data team's 数据质量 dashboard lists.
with load_log as (
    select * from {{ source('audit', 'load_log') }}
),

final as (
    select distinct on (feed, period)
        feed,
        period as delivery_period,
        file,
        rows,
        loaded,
        quarantined,
        outcome,
        failure,
        message,
        finished_at
    from load_log
    order by feed, period, load_id desc
)

select * from final
