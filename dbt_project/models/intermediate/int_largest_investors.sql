-- R7: an enterprise's largest investor is its current investor with the largest subscribed_capital
-- (ties: lowest investor_seq).
with investors as (
    select * from {{ ref('int_investors_current') }}
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
        invest_date
    from investors
    order by uscc, subscribed_capital desc, investor_seq asc
)

select * from final
