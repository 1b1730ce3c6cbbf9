{#- Rows that break an identity stated as a condition on the model's own columns. -#}
{% test expect_no_rows_where(model, condition) %}
select * from {{ model }} where {{ condition }}
{% endtest %}
