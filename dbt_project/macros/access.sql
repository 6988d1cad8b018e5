{#-
  Row-level security on the enterprise-level marts (warehouse.md, Access), run at the end of every dbt
  invocation (on-run-end): a table dbt rebuilds comes back without policies, and rebuilding dim_enterprise
  drops the policies that refer to it. Between the rebuild and this hook a district role sees no rows
  (security is forced, no policy grants any): it fails closed.

  - laiou_district_<code>: only its district's enterprises (dim_enterprise.district_code; the facts through
    the enterprise's current district, as R12 attributes them);
  - laiou_bi and the role that builds: every row.
-#}
{% macro apply_access() %}
  {% if execute %}
    {% set district = "substring(current_user from '^laiou_district_([0-9]{6})$')" %}
    {% set tables = {
        'dim_enterprise': 'district_code = ' ~ district,
        'fct_tax_monthly': 'uscc in (select uscc from marts.dim_enterprise where district_code = ' ~ district ~ ')',
        'fct_stats_monthly': 'uscc in (select uscc from marts.dim_enterprise where district_code = ' ~ district ~ ')',
    } %}
    {% for name, rows in tables.items() %}
      {% set exists = run_query("select to_regclass('marts." ~ name ~ "') is not null").columns[0].values()[0] %}
      {% if exists %}
        {% do run_query("
          alter table marts." ~ name ~ " enable row level security;
          alter table marts." ~ name ~ " force row level security;
          drop policy if exists district_rows on marts." ~ name ~ ";
          drop policy if exists all_rows on marts." ~ name ~ ";
          create policy district_rows on marts." ~ name ~ " for select to laiou_districts using (" ~ rows ~ ");
          create policy all_rows on marts." ~ name ~ " for select to laiou_bi, current_user using (true);
        ") %}
      {% endif %}
    {% endfor %}
    {% do run_query("grant usage on schema marts to laiou_bi, laiou_districts") %}
  {% endif %}
{% endmacro %}
