-- 按区 / headline 来沪 enterprises (R7, R8) by current district (R2) and year: R11, R12, R13, R14.
with enterprise_years as (
    select * from {{ ref('int_laiou_enterprise_years') }}
),

districts as (
    select * from {{ ref('ref_districts') }}
),

final as (
    select
        enterprise_years.year::integer as year,
        enterprise_years.district_code::text as district_code,
        districts.district_name::text as district_name,
        {{ laiou_measures() }}
    from enterprise_years
    left join districts on districts.district_code = enterprise_years.district_code
    group by enterprise_years.year, enterprise_years.district_code, districts.district_name
)

select * from final
