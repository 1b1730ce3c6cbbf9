{#-
  DuckDB-only SQL lives here, behind adapter.dispatch (docs/mediation.md#portability): a distributed engine
  (dbt-spark) supplies its own `<adapter>__<macro>`. The default implementations are DuckDB's; an
  adapter that cannot run them fails at compile time with the macro's name, not at run time.
-#}

{#- A text timestamp in a known format, or null when it does not parse. -#}
{% macro parse_timestamp(text, format) -%}
    {{ return(adapter.dispatch('parse_timestamp', 'tollhouse')(text, format)) }}
{%- endmacro %}
{% macro default__parse_timestamp(text, format) -%}
    try_strptime({{ text }}, '{{ format }}')
{%- endmacro %}

{#- The wall-clock time in `zone` of a UTC timestamp (both without a zone). -#}
{% macro utc_to_local(zone, utc_ts) -%}
    {{ return(adapter.dispatch('utc_to_local', 'tollhouse')(zone, utc_ts)) }}
{%- endmacro %}
{% macro default__utc_to_local(zone, utc_ts) -%}
    timezone({{ zone }}, timezone('UTC', {{ utc_ts }}))
{%- endmacro %}

{#- The UTC time of a wall-clock time in `zone`; the engine picks an occurrence of an ambiguous time. -#}
{% macro local_to_utc(zone, local_ts) -%}
    {{ return(adapter.dispatch('local_to_utc', 'tollhouse')(zone, local_ts)) }}
{%- endmacro %}
{% macro default__local_to_utc(zone, local_ts) -%}
    timezone('UTC', timezone({{ zone }}, {{ local_ts }}))
{%- endmacro %}

{#- One row per 15-minute step from `first` to `last` (timestamps), as column `step_at`. -#}
{% macro quarter_hours(first, last) -%}
    {{ return(adapter.dispatch('quarter_hours', 'tollhouse')(first, last)) }}
{%- endmacro %}
{% macro default__quarter_hours(first, last) -%}
    select unnest(generate_series({{ first }}, {{ last }}, interval 15 minute)) as step_at
{%- endmacro %}

{#- The 15-minute bucket a timestamp falls in. -#}
{% macro quarter_hour(ts) -%}
    {{ return(adapter.dispatch('quarter_hour', 'tollhouse')(ts)) }}
{%- endmacro %}
{% macro default__quarter_hour(ts) -%}
    time_bucket(interval 15 minute, {{ ts }})
{%- endmacro %}

{#- A whole number of seconds as an interval, and a timestamp as seconds since the epoch. -#}
{% macro seconds(n) -%}
    {{ return(adapter.dispatch('seconds', 'tollhouse')(n)) }}
{%- endmacro %}
{% macro default__seconds(n) -%}
    to_seconds({{ n }})
{%- endmacro %}
{% macro epoch_seconds(ts) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'tollhouse')(ts)) }}
{%- endmacro %}
{% macro default__epoch_seconds(ts) -%}
    epoch({{ ts }})::bigint
{%- endmacro %}

{#- A file's name from its path. -#}
{% macro file_name(path) -%}
    {{ return(adapter.dispatch('file_name', 'tollhouse')(path)) }}
{%- endmacro %}
{% macro default__file_name(path) -%}
    regexp_extract({{ path }}, '[^/]+$')
{%- endmacro %}

{#- A TIMESTAMPTZ as a plain UTC timestamp (the warehouse keeps times in UTC without a zone). -#}
{% macro to_utc_timestamp(ts) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'tollhouse')(ts)) }}
{%- endmacro %}
{% macro default__to_utc_timestamp(ts) -%}
    timezone('UTC', {{ ts }})
{%- endmacro %}

{#- One row per element of a list column (Spark: explode). -#}
{% macro list_elements(list_column) -%}
  {{ return(adapter.dispatch('list_elements', 'tollhouse')(list_column)) }}
{%- endmacro %}
{% macro default__list_elements(list_column) -%}
unnest({{ list_column }})
{%- endmacro %}
