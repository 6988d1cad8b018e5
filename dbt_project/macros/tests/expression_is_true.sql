{# Generic test (our own; dbt Hub packages are not reachable here): rows where `expression` is false fail. #}
{% test expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
