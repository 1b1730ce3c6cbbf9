{#- Effective-dated rows of one key whose [valid_from, valid_to) periods overlap: which one applies? -#}
{% test no_overlapping_validity(model, keys) %}
select a.*
from {{ model }} as a
inner join {{ model }} as b
    on {% for key in keys %}a.{{ key }} = b.{{ key }} and {% endfor %}a.valid_from < b.valid_from
    and (a.valid_to is null or a.valid_to > b.valid_from)
{% endtest %}
