-- One row per enterprise change record, retired district codes mapped to their successor (R2).
with source as (
    select * from {{ source('feeds', 'saic_enterprise') }}
),

districts as (
    select * from {{ ref('ref_districts') }}
),

final as (
    select
        source.uscc,
        source.reg_no,
        source.name,
        source.ent_type,
        source.ent_type = '2100' as is_branch,
        source.parent_uscc,
        source.reg_date,
        source.district_code as district_code_recorded,
        districts.successor_code as district_code,
        source.industry_code,
        source.reg_capital,
        source.status,
        source.status_date,
        source.record_date,
        source._period as delivery_period,
        source._line as delivery_line,
        source._loaded_at as delivery_loaded_at
    from source
    left join districts on districts.district_code = source.district_code
)

select * from final
