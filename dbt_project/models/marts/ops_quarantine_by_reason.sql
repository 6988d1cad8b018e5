-- 隔离行按原因 / quarantined rows by feed, delivery month and reason code, counts only (a view).
select * from {{ ref('stg_audit__quarantine_reasons') }}
