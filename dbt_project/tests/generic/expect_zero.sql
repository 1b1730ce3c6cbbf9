{#- Rows where a column that must be zero is not: an accounting identity broken. -#}
{% test expect_zero(model, column_name) %}
select * from {{ model }} where coalesce({{ column_name }}, 0) <> 0
{% endtest %}
