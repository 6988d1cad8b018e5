{#- The measures every by-year mart reports (warehouse.md), summed over int_laiou_enterprise_years rows
    grouped by year and a dimension: R11 counts, R12 tax in 万元, its R14 share of the year's total, and
    R13 revenue (千元) and year-end employees. -#}
{% macro laiou_measures() %}
    count(*) filter (where is_cumulative)::bigint as cumulative,
    count(*) filter (where is_active)::bigint as active,
    count(*) filter (where is_new)::bigint as new,
    count(*) filter (where is_exited)::bigint as exited,
    coalesce(sum(active_reg_capital_wan), 0)::numeric(24, 2) as reg_capital_wan,
    round(sum(tax_yuan) / 10000, 6)::numeric(24, 6) as tax_wan,
    round(
        sum(tax_yuan) / nullif(sum(sum(tax_yuan)) over (partition by year), 0), 10
    )::numeric(12, 10) as tax_share,
    sum(revenue_k)::numeric(24, 2) as revenue_k,
    sum(employees)::bigint as employees
{% endmacro %}
