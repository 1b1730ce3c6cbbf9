{#- A model that lists problems (tariff errors, breaks) must be empty. -#}
{% test expect_no_rows(model) %}
select * from {{ model }}
{% endtest %}
