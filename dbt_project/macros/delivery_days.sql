{#- Daily partitions (docs/mediation.md, "Daily partitions"). Dagster passes the delivery days a run covers in the
    environment variables TOLLHOUSE_DELIVERED_FROM and TOLLHOUSE_DELIVERED_TO (inclusive ISO dates). Without them,
    `dbt build` mediates every delivered record from scratch.
    Environment variables, not dbt vars: dbt re-parses the whole project when its vars change (about 6 s a run
    here), and only the files that read an environment variable when its value changes. -#}

{#- `--full-refresh` ignores the range: the models are rebuilt from every record (after an upgrade that
    changes their columns, or to repair days mediated out of order). -#}
{% macro delivery_range() -%}
    {{- return(run_range('TOLLHOUSE_DELIVERED')) -}}
{%- endmacro %}

{% macro delivery_range_given() -%}
    {{- return(delivery_range() is not none and not flags.FULL_REFRESH) -}}
{%- endmacro %}

{#- [first, last] from the environment variables `prefix`_FROM and `prefix`_TO (ISO dates), none without them. -#}
{% macro run_range(prefix) -%}
    {%- set first, last = env_var(prefix ~ '_FROM', ''), env_var(prefix ~ '_TO', '') -%}
    {%- if (first == '') != (last == '') -%}
        {{ exceptions.raise_compiler_error("give both " ~ prefix ~ "_FROM and " ~ prefix ~ "_TO, or neither") }}
    {%- endif -%}
    {{- return([first, last] if first else none) -}}
{%- endmacro %}

{#- `column` (a delivery date) is one of the run's delivery days; always true without a range. -#}
{% macro in_delivery_range(column) -%}
    {%- if delivery_range_given() -%}
        {%- set first, last = delivery_range() %}
        ({{ column }} between cast('{{ first }}' as date) and cast('{{ last }}' as date))
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
