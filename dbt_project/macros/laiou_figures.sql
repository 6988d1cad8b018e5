{#- The published figures (统计数据) of the yearly marts in one long table: a row per year, dimension (summary,
    province, district, industry), member (its code; '' for the summary) and measure, with its value.
    `laiou publish` freezes them (published_figures) and every build compares them (figure_revisions). -#}
{% macro laiou_figures() %}
{%- set split_measures = ['cumulative', 'active', 'new', 'exited', 'reg_capital_wan', 'tax_wan', 'tax_share', 'revenue_k', 'employees'] -%}
{%- set splits = [
    ('province', 'mart_laiou_by_province_year', 'source_province_code', 'source_province_name'),
    ('district', 'mart_laiou_by_district_year', 'district_code', 'district_name'),
    ('industry', 'mart_laiou_by_industry_year', 'industry_section', 'section_name'),
] -%}
select year, 'summary'::text as dimension, ''::text as member_code, '全市 / all Shanghai'::text as member_name,
       measure, value
from {{ ref('mart_laiou_summary_year') }}
cross join lateral (values
    {%- for m in ['cumulative', 'active', 'new', 'exited', 'tax_wan', 'indirect_cumulative'] %}
    ('{{ m }}', {{ m }}::numeric){{ ',' if not loop.last }}
    {%- endfor %}
) as measures (measure, value)
{%- for dimension, model, code, name in splits %}
union all
select year, '{{ dimension }}', {{ code }}::text, {{ name }}::text, measure, value
from {{ ref(model) }}
cross join lateral (values
    {%- for m in split_measures %}
    ('{{ m }}', {{ m }}::numeric){{ ',' if not loop.last }}
    {%- endfor %}
) as measures (measure, value)
{%- endfor %}
{% endmacro %}
