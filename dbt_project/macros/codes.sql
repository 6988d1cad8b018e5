{# R1: true when `col` is a valid GB 32100-2015 USCC (18 characters, alphabet, check character). #}
{% macro is_valid_uscc(col) -%}
    {%- set alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY' -%}
    {%- set weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] -%}
    coalesce(
        {{ col }} ~ '^[0-9A-HJ-NP-RTUW-Y]{18}$'
        and substr('{{ alphabet }}', (31 - ((
            {%- for w in weights %}
            (strpos('{{ alphabet }}', substr({{ col }}, {{ loop.index }}, 1)) - 1) * {{ w }}{{ ' +' if not loop.last }}
            {%- endfor %}
        ) % 31)) % 31 + 1, 1) = substr({{ col }}, 18, 1),
        false
    )
{%- endmacro %}

{# R3: the province code (xx0000) of a GB/T 2260 code `col`. #}
{% macro province_of(col) -%}
    (substr({{ col }}, 1, 2) || '0000')
{%- endmacro %}
