-- Incidents still open (audit.incident): failed checks and runs that have not passed again.
with incident as (
    select * from {{ source('audit', 'incident') }}
),

final as (
    select
        incident_id,
        kind,
        subject,
        partition_key,
        severity,
        opened_at,
        message,
        runbook
    from incident
    where resolved_at is null
)

select * from final
