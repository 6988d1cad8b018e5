{# A post-hook: an index on one column of this model's table unless one is there already. A new table gets it,
   and so does a table an earlier release built without it (an incremental model keeps its table). Unnamed:
   during a full rebuild the old table still holds its indexes' names until dbt drops it. #}
{% macro ensure_index(column, unique=false) -%}
do $$
begin
    if not exists (
        select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
        where i.indrelid = '{{ this.schema }}.{{ this.identifier }}'::regclass and i.indnatts = 1
          and a.attname = '{{ column }}' and i.indisunique = {{ unique }}
    ) then
        execute 'create {{ "unique " if unique }}index on {{ this.schema }}.{{ this.identifier }} ({{ column }})';
    end if;
end
$$
{%- endmacro %}
