-- 未解决事件 / incidents still open (a view).
select * from {{ ref('stg_audit__open_incidents') }}
