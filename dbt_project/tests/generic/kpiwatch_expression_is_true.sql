{#- Rows where the expression is false fail the test; rows where it is null (e.g. an undefined rate) pass. -#}
{% test kpiwatch_expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
