{#- The model's key: its columns identify one row and none of them is null. One query (unique and
    not_null on each column would be one per column). -#}
{% test primary_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1 or {% for c in columns %}{{ c }} is null{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
