{#-
  Row-level security on the enterprise-level marts (warehouse.md, Access):
  - laiou_district_<code>: only its district's enterprises (dim_enterprise.district_code; the facts through
    the enterprise's current district, as R12 attributes them);
  - laiou_bi and the role that builds: every row.

  It fails closed. `protect_enterprise_rows` is a post-hook of each protected model, and dbt runs such
  hooks inside the transaction that creates (or fills) the table, before its grants and its commit: no
  reader ever sees the table without its policies, whether the build completes or is killed at any point.

  The facts' district policy reads marts.dim_enterprise, so PostgreSQL makes it depend on that table. When
  dim_enterprise is rebuilt, dbt renames the old table to a backup and drops it (cascade) after the commit,
  which would drop the facts' policy with it. So dim_enterprise's hook also points the facts' policies at
  the new table, in the same transaction.
-#}

{% macro district_of_current_user() -%}
  substring(current_user from '^laiou_district_([0-9]{6})$')
{%- endmacro %}

{# The district policy of a fact table: its rows whose enterprise is in the reader's district. #}
{% macro fact_district_policy(fact) -%}
  drop policy if exists district_rows on {{ fact }};
  create policy district_rows on {{ fact }} for select to laiou_districts
    using (uscc in (select uscc from {{ this.schema }}.dim_enterprise
                    where district_code = {{ district_of_current_user() }}));
{%- endmacro %}

{% macro protect_enterprise_rows() -%}
  {%- set dimension = this.identifier == 'dim_enterprise' -%}
  alter table {{ this }} enable row level security;
  alter table {{ this }} force row level security;
  drop policy if exists all_rows on {{ this }};
  create policy all_rows on {{ this }} for select to laiou_bi, current_user using (true);
  {% if dimension -%}
    drop policy if exists district_rows on {{ this }};
    create policy district_rows on {{ this }} for select to laiou_districts
      using (district_code = {{ district_of_current_user() }});
    {% for fact in ['fct_tax_monthly', 'fct_stats_monthly'] -%}
      {%- set relation = adapter.get_relation(this.database, this.schema, fact) -%}
      {%- if relation is not none %}
    {{ fact_district_policy(relation) }}
      {%- endif %}
    {%- endfor %}
  {%- elif adapter.get_relation(this.database, this.schema, 'dim_enterprise') is not none -%}
    {{ fact_district_policy(this) }}
  {%- else -%}
    {#- No enterprise dimension yet: no district policy, so district roles see no fact row. -#}
    drop policy if exists district_rows on {{ this }};
  {%- endif %}
{%- endmacro %}

{# on-run-end: schema usage for the reading roles (the tables' SELECT comes from dbt's grants). #}
{% macro grant_marts_usage() %}
  {% if execute and run_query("select to_regnamespace('marts') is not null").columns[0].values()[0] %}
    {% do run_query("grant usage on schema marts to laiou_bi, laiou_districts") %}
  {% endif %}
{% endmacro %}
