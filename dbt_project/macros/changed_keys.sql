{# The delivery months of `feed` loaded since the incremental model `this` last read it: months whose raw
   rows carry a _loaded_at later than the newest delivery_loaded_at `this` holds (a new month, or a month
   delivered again; a load gives all its rows one _loaded_at). A SQL list of date literals, so that the
   raw table's monthly partitions are pruned when the plan is made. A month all of whose rows lost to
   later records leaves no trace in `this` and is read again by the next runs: correct, only slower. A table
   without delivery_loaded_at (built by an earlier release), or built with other reference tables than
   today's `seeds` (a release changed a district's successor, R2, or a province, R5), has read nothing. #}
{% macro months_loaded_since_read(feed, seeds=[]) %}
    {%- if not execute -%}{{ return("('9999-12-01'::date)") }}{%- endif -%}
    {%- set held = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set built_with = run_query(
        "select coalesce(obj_description('" ~ this.schema ~ "." ~ this.identifier ~ "'::regclass, 'pg_class'), '')"
    ).columns[0].values()[0] -%}
    {%- set newest_read = "(select coalesce(max(held.delivery_loaded_at), '-infinity') from " ~ this ~ " as held)"
        if 'delivery_loaded_at' in held and built_with == seeds_note(seeds) else "'-infinity'::timestamptz" -%}
    {%- set query -%}
        with months as (
            select distinct period from {{ source('audit', 'load_log') }}
            where feed = '{{ feed }}' and outcome = 'loaded'
        )
        select period::text from months
        where (select r._loaded_at from {{ source('feeds', feed) }} as r where r._period = months.period limit 1)
            > {{ newest_read }}
        order by 1
    {%- endset -%}
    {%- set months = run_query(query).columns[0].values() -%}
    {%- set literals = [] -%}
    {%- for month in (months or ['9999-12-01']) -%}{%- do literals.append("'" ~ month ~ "'::date") -%}{%- endfor -%}
    {{ return("(" ~ literals | join(", ") ~ ")") }}
{% endmacro %}


{# The table of the enterprises an incremental run of `this` recomputes: temporary, this session's. #}
{% macro changed_keys() -%}
    {{ this.identifier }}__changed
{%- endmacro %}


{# A pre-hook of a model incremental by enterprise (#18): the enterprises with a record of `feed` in a month
   loaded since the model last read it, and those whose held rows came from such a month (a redelivery may
   have withdrawn them), go into changed_keys(); their rows are deleted, and the model's select adds them
   again from all their records. An enterprise left with no record is thereby gone, as in a full build. #}
{% macro take_changed_keys(feed, records, seeds=[]) %}
    {#- A table built by a release before this one lacks the two columns: added empty, they make every month
        unread, so this run reads every key again once and the table is current from then on. -#}
    alter table {{ this }}
        add column if not exists delivery_period date, add column if not exists delivery_loaded_at timestamptz;
    {%- set months = months_loaded_since_read(feed, seeds) %}
    drop table if exists {{ changed_keys() }};
    create temporary table {{ changed_keys() }} as
        select uscc from {{ records }} where delivery_period in {{ months }}
        union
        select uscc from {{ this }} where delivery_period in {{ months }};
    analyze {{ changed_keys() }};
    delete from {{ this }} where uscc in (select uscc from {{ changed_keys() }})
{% endmacro %}


{# What a model incremental by key notes on its table (its comment: the models of intermediate carry no
   persisted docs) about the reference tables (seeds) its rows were derived with: a digest of their rows.
   A post-hook writes it; the next run compares it (months_loaded_since_read). #}
{% macro seeds_note(seeds) %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set digests = ["''"] -%}
    {%- for seed in seeds -%}
        {%- do digests.append("(select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from (select * from " ~ seed ~ ") as t)") -%}
    {%- endfor -%}
    {{ return("built with seeds " ~ run_query("select md5(" ~ digests | join(" || ") ~ ")").columns[0].values()[0]) }}
{% endmacro %}


{% macro note_seeds(seeds=[]) -%}
    comment on table {{ this }} is '{{ seeds_note(seeds) }}'
{%- endmacro %}
