-- R6: an enterprise's current record is its row with the latest record_date (ties: the later delivery).
with records as (
    select * from {{ ref('stg_feeds__enterprise_records') }}
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
        industry_code, reg_capital, status, status_date, record_date, delivery_period
    from ranked
    where recency = 1
)

select * from final
