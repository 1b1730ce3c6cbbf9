{#- RA-16 and RA-17 (docs/assurance.md): what a switch or trunk carries in an hour against the same hour of
    comparable days. A `units` relation has (unit, first_hour, last_hour, timezone): the hours it is known to
    have been delivering (outside them an hour is unknown, not silent) and the clock its traffic keeps (the
    time zone of the accounts most of its calls belong to: customers call by their local day, so a summer-time
    change moves their busy hours in UTC). Public holidays are neither judged nor history. -#}

{#- Every UTC hour of every unit's span with its local hour of day, day and day type (weekday or weekend). -#}
{% macro ra_capture_grid(units) -%}
    select unit, hour_at, hour(local_at) as hod, cast(local_at as date) as local_day, isodow(local_at) >= 6 as weekend
    from (
        select units.unit, cast(h.hour_at as timestamp) as hour_at,
            {{ utc_to_local("coalesce(units.timezone, 'UTC')", 'cast(h.hour_at as timestamp)') }} as local_at
        from {{ units }} as units, unnest(generate_series(units.first_hour, units.last_hour, interval 1 hour)) as h(hour_at)
    )
    where cast(local_at as date) not in (
        select holiday_date from {{ ref('stg_catalog__holidays') }} where holiday_date is not null
    )
{%- endmacro %}

{#- Each unit's clock: the time zone of the accounts most of its calls belong to (ties: the first by name).
    `unit_calls` has (unit, call_id); calls without an account count for none. -#}
{% macro ra_capture_zones(unit_calls) -%}
    select unit, first(timezone order by calls desc, timezone) as timezone
    from (
        select unit_calls.unit, accounts.timezone, count(*) as calls
        from {{ unit_calls }} as unit_calls
        inner join {{ ref('fct_calls') }} as calls using (call_id)
        inner join {{ ref('stg_crm__accounts') }} as accounts  -- one row per account: its latest version
            on accounts.account_id = calls.account_id and accounts.timezone is not null
        group by unit_calls.unit, accounts.timezone
    )
    group by unit
{%- endmacro %}

{#- Each hour of the grid with its comparable hours: same unit, local hour of day and day type, another local
    day at most ra_capture_history_weeks weeks before or after (a month is assured once it is over, so both
    sides count). -#}
{% macro ra_capture_comparable(grid) -%}
    select g.unit, g.hour_at, h.hour_at as past_hour
    from {{ grid }} as g
    inner join {{ grid }} as h
        on h.unit = g.unit and h.hod = g.hod and h.weekend = g.weekend
        and h.local_day <> g.local_day
        and h.hour_at between g.hour_at - interval {{ 7 * var('ra_capture_history_weeks') }} day
            and g.hour_at + interval {{ 7 * var('ra_capture_history_weeks') }} day
{%- endmacro %}

{#- Per grid hour: its calls, the median of its comparable hours' calls (an hour without calls counts 0), how
    many there were, and whether it is far below: under the band, more than ra_capture_min_spread robust
    standard deviations of those hours below their median and, for a Poisson count of that median,
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
                -- beyond the comparable hours' own spread (robust sd: 1.4826 x MAD); one bursty customer's
                -- trunk swings far more than a Poisson count
                and baseline.expected_calls - coalesce(now.calls, 0) > {{ var('ra_capture_min_spread') }} * baseline.spread
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
            1.4826 * mad(coalesce(past.calls, 0)) as spread, count(*) as history_hours
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
    list_sum([exp(-({{ mean }}) + i * ln(greatest({{ mean }}, 1e-9)) - lgamma(i + 1)) for i in range(cast({{ k }} as bigint) + 1)])
{%- endmacro %}

{#- What a file's name says (int_ra_switch_files_parsed): `unit` (the switch: the name's prefix), the UTC hour of
    `<switch>_<YYYYMMDD>T<HH>Z[_<n>]` names, the sequence number of `<switch>_<n>` (or `_<n>` after the
    hour; not a number that reads as a date), after .csv/.gz/.json/.cdr/.txt/.log extensions are taken off. Plain SQL (no ref, no var), so a
    test can render it against its own table. -#}
{% macro ra_file_names(audit) -%}
select
    file_id, source, delivery_date, path, status, duplicate_of, rows_loaded, lines,
    coalesce(nullif(hourly.stream, ''), nullif(numbered.stream, '')) as unit,
    try_strptime(nullif(hourly.stamp, ''), '%Y%m%dT%H') as hour_at,
    try_cast(case
        when hourly.stream <> '' then nullif(hourly.seq, '')
        -- a number that reads as a day (YYYYMMDD, optionally with hour, minute, second) is a stamp, not a count
        when length(numbered.seq) in (8, 10, 12, 14) and try_strptime(left(numbered.seq, 8), '%Y%m%d') is not null
            then null
        else nullif(numbered.seq, '')
    end as bigint) as seq
from (
    select
        audit.*,
        regexp_extract(names.stem, '^(.+?)[_-](\d{8}T\d{2})Z?(?:[_-](\d+))?$', ['stream', 'stamp', 'seq']) as hourly,
        regexp_extract(names.stem, '^(.+?)[_.-](\d+)$', ['stream', 'seq']) as numbered
    from {{ audit }} as audit,
        lateral (select regexp_replace(regexp_extract(audit.path, '[^/]*$'),
                                       '(\.(gz|csv|json|cdr|txt|log))+$', '') as stem) as names
) as files
{%- endmacro %}

{#- Numbers missing between consecutive numbers of a switch's numbered files (names with an hour are judged
    by hour), at most 1,000 after one file (a counter reset is no gap of a million files), each with the
    delivery day of the file before it. `named` has (unit, hour_at, seq, delivery_date). -#}
{% macro ra_sequence_gaps(named) -%}
    select numbered.unit, cast(missing.seq as bigint) as seq, numbered.delivery_date
    from (
        select unit, seq, delivery_date, lead(seq) over (partition by unit order by seq) as next_seq
        from (
            select unit, seq, max(delivery_date) as delivery_date
            from {{ named }} where hour_at is null and seq is not null and unit is not null
            group by unit, seq
        )
    ) as numbered,
        unnest(generate_series(numbered.seq + 1, least(numbered.next_seq - 1, numbered.seq + 1000))) as missing(seq)
    where numbered.next_seq > numbered.seq + 1
{%- endmacro %}
