{#- Tariff files have one format for customer plans (catalog) and vendor decks (DESIGN.md section 5):
    one staging body per file, used by both sources. -#}
{% macro stg_rate_plans(source_name) -%}
select
    rate_plan_id,
    currency,
    timezone,
    rounding_method,
    cast(rounding_decimals as integer) as rounding_decimals,
    band_mode,
    delivery_date
from ({{ latest_version(source_name ~ '__rate_plans', ['rate_plan_id']) }})
{%- endmacro %}

{% macro stg_rates(source_name) -%}
select
    rate_plan_id,
    prefix,
    destination,
    band,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    cast(coalesce(nullif(connect_fee, ''), '0') as decimal(18, 6)) as connect_fee,
    cast(group_start_s as integer) as group_start_s,
    cast(rate as decimal(18, 6)) as rate,
    cast(rate_unit_s as integer) as rate_unit_s,
    cast(increment_s as integer) as increment_s,
    cast(nullif(max_cost, '') as decimal(18, 6)) as max_cost,
    delivery_date
from ({{ latest_version(source_name ~ '__rates', ['rate_plan_id', 'prefix', 'band', 'valid_from', 'group_start_s']) }})
{%- endmacro %}

{% macro stg_time_bands(source_name) -%}
select
    rate_plan_id,
    band,
    weekdays,
    start_time,
    end_time,
    delivery_date
from ({{ latest_version(source_name ~ '__time_bands', ['rate_plan_id', 'band', 'weekdays', 'start_time']) }})
{%- endmacro %}

{% macro stg_holidays(source_name) -%}
select
    rate_plan_id,
    cast("date" as date) as holiday_date,
    band,
    delivery_date
from ({{ latest_version(source_name ~ '__holidays', ['rate_plan_id', '"date"']) }})
{%- endmacro %}
