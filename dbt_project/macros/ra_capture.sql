{#- RA-16 and RA-17 (docs/assurance.md): what a switch or trunk carries in an hour against the same UTC hour of
    comparable days. A `units` relation has (unit, first_hour, last_hour): the hours it is known to have been
    delivering (outside them an hour is unknown, not silent). Public holidays are neither judged nor history. -#}

{#- Every hour of every unit's span with its hour of day and day type (weekday or weekend). -#}
{% macro ra_capture_grid(units) -%}
    select units.unit, cast(h.hour_at as timestamp) as hour_at, hour(h.hour_at) as hod, isodow(h.hour_at) >= 6 as weekend
    from {{ units }} as units, unnest(generate_series(units.first_hour, units.last_hour, interval 1 hour)) as h(hour_at)
    where cast(h.hour_at as date) not in (
        select holiday_date from {{ ref('stg_catalog__holidays') }} where holiday_date is not null
    )
{%- endmacro %}

{#- Each hour of the grid with its comparable hours: same unit, hour of day and day type, another day at most
    ra_capture_history_weeks weeks before or after (a month is assured once it is over, so both sides count). -#}
{% macro ra_capture_comparable(grid) -%}
    select g.unit, g.hour_at, h.hour_at as past_hour
    from {{ grid }} as g
    inner join {{ grid }} as h
        on h.unit = g.unit and h.hod = g.hod and h.weekend = g.weekend
        and cast(h.hour_at as date) <> cast(g.hour_at as date)
        and h.hour_at between g.hour_at - interval {{ 7 * var('ra_capture_history_weeks') }} day
            and g.hour_at + interval {{ 7 * var('ra_capture_history_weeks') }} day
{%- endmacro %}

{#- Per grid hour: its calls, the median of its comparable hours' calls (an hour without calls counts 0), how
    many there were, and whether it is far below: under the band and, for a Poisson count of that median,
    at most as many calls has a probability below ra_capture_alpha (a busy hour of 12 calls or more with
    none; a quiet hour never qualifies). `totals` has (unit, hour_at, calls). -#}
{% macro ra_capture_judged(grid, comparable, totals) -%}
    select
        grid.unit,
        grid.hour_at,
        coalesce(now.calls, 0) as calls,
        baseline.expected_calls,
        baseline.history_hours,
        case
            when baseline.history_hours >= {{ var('ra_capture_min_history') }}
                and coalesce(now.calls, 0) < (1 - {{ var('ra_capture_band') }}) * baseline.expected_calls
            -- then as few calls or fewer must be this unlikely for a Poisson count of the median (exact tail;
            -- in a case so it is summed only for hours under the band)
            then {{ ra_poisson_at_most('coalesce(now.calls, 0)', 'baseline.expected_calls') }}
                < {{ var('ra_capture_alpha') }}
            else false
        end as is_short
    from {{ grid }} as grid
    left join {{ totals }} as now using (unit, hour_at)
    left join (
        select comparable.unit, comparable.hour_at, median(coalesce(past.calls, 0)) as expected_calls,
            count(*) as history_hours
        from {{ comparable }} as comparable
        left join {{ totals }} as past on past.unit = comparable.unit and past.hour_at = comparable.past_hour
        group by comparable.unit, comparable.hour_at
    ) as baseline using (unit, hour_at)
{%- endmacro %}

{#- The value of a short hour in each currency its comparable hours carried: median calls in that currency
    (0 where none) x median rated charge per call of those hours. `traffic` has (unit, hour_at, currency,
    calls, charge); `short` has (unit, hour_at). -#}
{% macro ra_capture_valued(short, comparable, traffic) -%}
    with pairs as (
        select comparable.* from {{ comparable }} as comparable inner join {{ short }} as short using (unit, hour_at)
    ),

    currencies as (
        select distinct pairs.unit, pairs.hour_at, traffic.currency
        from pairs
        inner join {{ traffic }} as traffic on traffic.unit = pairs.unit and traffic.hour_at = pairs.past_hour
        where traffic.currency is not null
    )

    select
        currencies.unit,
        currencies.hour_at,
        currencies.currency,
        median(coalesce(traffic.calls, 0)) as median_calls,
        median(cast(traffic.charge as double) / traffic.calls) filter (where traffic.calls > 0) as median_charge,
        count(*) as history_hours
    from currencies
    inner join pairs using (unit, hour_at)
    left join {{ traffic }} as traffic
        on traffic.unit = pairs.unit and traffic.hour_at = pairs.past_hour and traffic.currency = currencies.currency
    group by currencies.unit, currencies.hour_at, currencies.currency
    having median(coalesce(traffic.calls, 0)) > 0
{%- endmacro %}

{#- P(X <= k) for X Poisson with mean `mean` (> 0), summed term by term: exact where a normal approximation
    is not (an hour of 12 calls with none). -#}
{% macro ra_poisson_at_most(k, mean) -%}
    list_sum([exp(-({{ mean }}) + i * ln(greatest({{ mean }}, 1e-9)) - lgamma(i + 1)) for i in range(({{ k }}) + 1)])
{%- endmacro %}
