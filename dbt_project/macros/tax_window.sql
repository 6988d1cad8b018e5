{# The tax months a run of fct_tax_monthly rebuilds: vars min_month and max_month (a Dagster partition or
   range passes them), every month without them. #}
{% macro tax_window(column) -%}
{{ column }} between '{{ var('min_month', '0001-01-01') }}'::date and '{{ var('max_month', '9999-12-01') }}'::date
{%- endmacro %}
