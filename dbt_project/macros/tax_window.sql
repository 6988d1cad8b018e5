{# The tax months a run of fct_tax_monthly rebuilds: environment variables LAIOU_DBT_TAX_FROM and LAIOU_DBT_TAX_TO
   (first days of months; a Dagster partition or range sets them), every month without them. Environment
   variables rather than --vars: dbt parses the whole project again whenever --vars change, and re-reads
   only the files that use an environment variable when its value changes. #}
{% macro tax_window(column) -%}
{{ column }} between '{{ env_var('LAIOU_DBT_TAX_FROM', '0001-01-01') }}'::date and '{{ env_var('LAIOU_DBT_TAX_TO', '9999-12-01') }}'::date
{%- endmacro %}
