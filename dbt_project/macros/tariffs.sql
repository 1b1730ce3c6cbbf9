{#- Tariff files have one format for customer plans (catalog) and vendor decks (docs/rating.md):
    one staging body per file, used by both sources. Values are cast with try_cast, so a bad number is
    a null here and a row in int_tariff_errors_found (naming file, line and rule), not a failed build. -#}
{#- The columns among `columns` (name, type) whose text is there but does not cast: a list, empty when all do. -#}
{% macro unparsable(columns) -%}
    list_filter([
        {%- for name, type in columns %}
        case when nullif({{ name }}, '') is not null and try_cast({{ name }} as {{ type }}) is null
            then '{{ name }}' end{{ "," if not loop.last }}
        {%- endfor %}
    ], c -> c is not null)
{%- endmacro %}

{% macro stg_rate_plans(source_name) -%}
select
    rate_plan_id,
    currency,
    timezone,
    rounding_method,
    try_cast(rounding_decimals as integer) as rounding_decimals,
    band_mode,
    {{ unparsable([('rounding_decimals', 'integer')]) }} as unparsable,
    file_id,
    line_no,
    delivery_date
from ({{ latest_version(source_name ~ '__rate_plans', ['rate_plan_id']) }})
{%- endmacro %}

{% macro stg_rates(source_name) -%}
select
    rate_plan_id,
    prefix,
    destination,
    band,
    try_cast(valid_from as date) as valid_from,
    try_cast(nullif(valid_to, '') as date) as valid_to,
    try_cast(coalesce(nullif(connect_fee, ''), '0') as decimal(18, 8)) as connect_fee,
    try_cast(group_start_s as integer) as group_start_s,
    try_cast(rate as decimal(18, 8)) as rate,
    try_cast(rate_unit_s as integer) as rate_unit_s,
    try_cast(increment_s as integer) as increment_s,
    try_cast(nullif(max_cost, '') as decimal(18, 8)) as max_cost,
    {{ unparsable([('valid_from', 'date'), ('valid_to', 'date'), ('connect_fee', 'decimal(18, 8)'),
                   ('group_start_s', 'integer'), ('rate', 'decimal(18, 8)'), ('rate_unit_s', 'integer'),
                   ('increment_s', 'integer'), ('max_cost', 'decimal(18, 8)')]) }} as unparsable,
    file_id,
    line_no,
    delivery_date
from ({{ latest_version(source_name ~ '__rates', ['rate_plan_id', 'prefix', 'band', 'valid_from', 'group_start_s']) }})
{%- endmacro %}

{% macro stg_time_bands(source_name) -%}
select
    rate_plan_id,
    band,
    weekdays,
    {{ epoch_seconds('try_cast(start_time as time)') }} as start_second,
    {{ epoch_seconds('try_cast(end_time as time)') }} as end_second,  -- 24:00:00 is 86400
    {{ unparsable([('start_time', 'time'), ('end_time', 'time')]) }} as unparsable,
    file_id,
    line_no,
    delivery_date
from ({{ latest_version(source_name ~ '__time_bands', ['rate_plan_id', 'band', 'weekdays', 'start_time']) }})
{%- endmacro %}

{% macro stg_holidays(source_name) -%}
select
    rate_plan_id,
    try_cast("date" as date) as holiday_date,
    band,
    {{ unparsable([('"date"', 'date')]) }} as unparsable,
    file_id,
    line_no,
    delivery_date
from ({{ latest_version(source_name ~ '__holidays', ['rate_plan_id', '"date"']) }})
{%- endmacro %}

{#- One tariff file of both decks, customer plans (catalog) and vendor decks, with the file's path. -#}
{% macro tariff_rows(entity) -%}
    select 'customer' as deck, audit.path as file_path, t.*
    from {{ ref('stg_catalog__' ~ entity) }} as t
    inner join {{ source('raw', 'load_audit') }} as audit using (file_id)
    union all
    select 'vendor' as deck, audit.path as file_path, t.*
    from {{ ref('stg_vendor__' ~ entity) }} as t
    inner join {{ source('raw', 'load_audit') }} as audit using (file_id)
{%- endmacro %}

{#- Longest-prefix match keys (int_tariff_prefixes_flattened). A number of up to 15 digits as a BIGINT with
    the order of the strings: right-padded with zeros to 15 digits, times 16, plus its length, so '4477'
    sorts before '44770' and an 8-digit number never falls inside a 9-digit prefix's range. -#}
{% macro number_key(digits) -%}
    (rpad({{ digits }}, 15, '0')::bigint * 16 + length({{ digits }}))
{%- endmacro %}

{#- The first string after every string that starts with `prefix` ('449' -> '45'); null for '9', '99'. -#}
{% macro prefix_successor(prefix) -%}
    case when rtrim({{ prefix }}, '9') <> ''
        then left(rtrim({{ prefix }}, '9'), -1) || chr(ascii(right(rtrim({{ prefix }}, '9'), 1)) + 1) end
{%- endmacro %}

{#- A band piece's slot pieces (int_calls_rated): the slots of its band's rate card (`cards`) that overlap
    it, cut to it. -#}
{%- macro slot_pieces(piece) -%}
    list_transform(
        list_filter(cards.slots, s -> s.slot_start_s < {{ piece }}.to_s
            and coalesce(s.slot_end_s, {{ piece }}.to_s) > {{ piece }}.from_s),
        s -> {'band': {{ piece }}.band,
              'from_s': greatest({{ piece }}.from_s, s.slot_start_s),
              'to_s': least({{ piece }}.to_s, coalesce(s.slot_end_s, {{ piece }}.to_s)),
              'slot_start_s': s.slot_start_s, 'increment_s': s.increment_s, 'rate': s.rate,
              'rate_unit_s': s.rate_unit_s, 'rate_valid_from': s.rate_valid_from, 'unit_factor': s.unit_factor}
    )
{%- endmacro %}

{#- The carried round-up (docs/rating.md): the seconds a piece ending at `piece_end` bills when
    `position` seconds are billed already: whole increments up to its end, or nothing when the earlier
    round-up covered it. -#}
{%- macro carried_bill(position, piece_end, increment) -%}
    (case when {{ position }} >= {{ piece_end }} then 0
        else ({{ piece_end }} - {{ position }} + {{ increment }} - 1) // {{ increment }} * {{ increment }} end)
{%- endmacro %}

{#- An exact price `numerator_units / denominator_units` minor units (non-negative HUGEINTs), rounded once
    with the plan's method (up | half_up | down) to whole minor units, as a DECIMAL amount. -#}
{%- macro round_by_method(numerator_units, denominator_units, method, minor_unit) -%}
    cast(
        cast(
            ({{ numerator_units }}) // ({{ denominator_units }})
            + case {{ method }}
                when 'up' then case when ({{ numerator_units }}) % ({{ denominator_units }}) > 0 then 1 else 0 end
                when 'half_up' then
                    case when 2 * (({{ numerator_units }}) % ({{ denominator_units }})) >= ({{ denominator_units }}) then 1 else 0 end
                else 0
            end
        as decimal(38, 0)) * {{ minor_unit }}
    as decimal(18, 6))
{%- endmacro %}
