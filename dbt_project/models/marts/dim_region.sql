-- 地区维表 / provinces (R3: mainland, HK, Macau, Taiwan) and Shanghai districts (R2, current and retired).
with provinces as (
    select * from {{ ref('ref_provinces') }}
),

districts as (
    select * from {{ ref('ref_districts') }}
),

final as (
    select
        province_code::text as region_code,
        province_name::text as region_name,
        'province'::text as level,
        province_code::text as province_code,
        is_mainland::boolean as is_mainland,
        true as is_current,
        null::text as successor_code
    from provinces
    union all
    select
        district_code::text,
        district_name::text,
        'district'::text,
        '310000'::text,
        true,
        is_current::boolean,
        successor_code::text
    from districts
)

select * from final
