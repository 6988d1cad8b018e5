{# The first delivery month of `feed` an incremental model (`this`, with delivery_period and
   delivery_loaded_at) has not read: a month loaded since (its raw rows carry another _loaded_at than the
   model's rows of that month; a load gives all its rows one) or never read. A date literal; one past every
   loaded month when nothing is unread, so the run reads and deletes nothing. Each month is looked up by
   its index, not by reading the table. A month whose every voucher came earlier has no row in the model
   and is read again on every run: correct, only slower. #}
{% macro first_unread_delivery(feed) %}
    {%- if not execute -%}{{ return("'9999-12-01'::date") }}{%- endif -%}
    {%- set query -%}
        with months as (
            select distinct period from {{ source('audit', 'load_log') }}
            where feed = '{{ feed }}' and outcome = 'loaded'
        )
        select coalesce(min(period), '9999-12-01')::text
        from months
        where (select r._loaded_at from {{ source('feeds', feed) }} as r where r._period = months.period limit 1)
            is distinct from
            (select m.delivery_loaded_at from {{ this }} as m where m.delivery_period = months.period limit 1)
    {%- endset -%}
    {{ return("'" ~ run_query(query).columns[0].values()[0] ~ "'::date") }}
{% endmacro %}
