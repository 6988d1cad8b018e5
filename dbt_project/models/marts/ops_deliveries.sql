-- 交付情况 / the last load attempt of each feed month, for the data team's 数据质量 dashboard (a view: current
-- whenever it is read).
select * from {{ ref('stg_audit__deliveries') }}
