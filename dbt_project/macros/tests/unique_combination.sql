{#- Generic test: no two rows share the same values in `columns` (a composite key, as dbt_utils'
    unique_combination_of_columns, which cannot be downloaded here). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
