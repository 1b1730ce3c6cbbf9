{#- Daily partitions (docs/mediation.md, "Daily partitions"). Dagster passes the delivery days a run covers as the vars
    `delivered_from` and `delivered_to` (inclusive ISO dates). Without them, `dbt build` mediates every
    delivered record from scratch. -#}

{#- `--full-refresh` ignores the range: the models are rebuilt from every record (after an upgrade that
    changes their columns, or to repair days mediated out of order). -#}
{% macro delivery_range_given() -%}
    {%- set first, last = var('delivered_from', none), var('delivered_to', none) -%}
    {%- if (first is none) != (last is none) -%}
        {{ exceptions.raise_compiler_error("give both delivered_from and delivered_to, or neither") }}
    {%- endif -%}
    {{- return(first is not none and not flags.FULL_REFRESH) -}}
{%- endmacro %}

{#- `column` (a delivery date) is one of the run's delivery days; always true without a range. -#}
{% macro in_delivery_range(column) -%}
    {%- if delivery_range_given() -%}
        ({{ column }} between cast('{{ var("delivered_from") }}' as date) and cast('{{ var("delivered_to") }}' as date))
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Partitioned models are incremental when a range is given (its days are replaced, the rest kept) and
    plain tables otherwise (a full rebuild writes the table once instead of deleting every row first). -#}
{% macro by_delivery_day() -%}
    {{- return('incremental' if delivery_range_given() else 'table') -}}
{%- endmacro %}

{#- How long something has waited, in delivery days: the latest day any switch file was delivered, less
    `day`. The age of a suspense. -#}
{% macro delivery_days_since(day) -%}
    cast((select max(delivery_date) from {{ ref('int_cdr_files_attributed') }}) - {{ day }} as integer)
{%- endmacro %}
