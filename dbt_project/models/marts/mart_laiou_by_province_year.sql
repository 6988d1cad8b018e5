-- 按来源省份 / headline 来沪 enterprises (R7, R8) by source province and year: R11, R12, R13, R14.
with enterprise_years as (
    select * from {{ ref('int_laiou_enterprise_years') }}
),

provinces as (
    select * from {{ ref('ref_provinces') }}
),

final as (
    select
        enterprise_years.year::integer as year,
        enterprise_years.source_province_code::text as source_province_code,
        provinces.province_name::text as source_province_name,
        {{ laiou_measures() }}
    from enterprise_years
    left join provinces on provinces.province_code = enterprise_years.source_province_code
    group by enterprise_years.year, enterprise_years.source_province_code, provinces.province_name
)

select * from final
