-- Quarantined rows counted by feed, delivery month and reason code (feeds.md), without the rows themselves:
-- a raw line may name an enterprise, and these counts go to a BI role.
with quarantine as (
    select * from {{ source('audit', 'quarantine') }}
),

final as (
    select
        feed,
        period as delivery_period,
        reason,
        count(*) as quarantined_rows
    from quarantine
    group by 1, 2, 3
)

select * from final
