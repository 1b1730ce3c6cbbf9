-- The longest-prefix match, prepared once per tariff load (docs/rating-lpm.md measured the choices at
-- 10 M calls: this one, flattened ranges and an ASOF JOIN, is 2.3 times faster than one equality join
-- per prefix length and uses a fifth of the memory).
--
-- Per plan, an epoch is a stretch of days in which no rate row starts or ends (cut at every valid_from
-- and valid_to), kept when it overlaps the calls being rated. Within an epoch the nested prefixes are
-- cut into disjoint ranges of a number key, each owned by its longest prefix: '44' [44, 447), '447'
-- [447, 448), '44' [448, 45). A call's number finds its range with one ASOF JOIN on (epoch_no, key): the
-- last range starting at or before the number's key, a match when the key is below the range's end.
-- `prefix_no` numbers a prefix in an epoch: with a band it finds the rate card (int_tariff_rate_cards_assembled).
-- `all_times`: the prefix has a rate for band `*` in the epoch, so bands do not apply to its calls.
{{ config(materialized='table') }}

with rates as (
    select * from {{ ref('int_tariff_rates_bounded') }}
),

span as (
    select
        min(answer_at) - interval 2 day as first_at,
        max(answer_at) + interval 2 day as last_at
    from {{ ref('int_rating_requests_selected') }}
),

epochs as (
    select
        deck,
        rate_plan_id,
        epoch_from,
        coalesce(lead(epoch_from) over (partition by deck, rate_plan_id order by epoch_from),
            date '9999-12-31') as epoch_to
    from (
        select deck, rate_plan_id, valid_from as epoch_from from rates
        union
        select deck, rate_plan_id, valid_until from rates where valid_until < date '9999-12-31'
    ) as cuts
),

numbered as (
    -- the epoch's days are local to the plan; calls compare their UTC answer with the UTC bounds
    select
        located.*,
        cast(row_number() over (order by located.deck, located.rate_plan_id, located.epoch_from) as integer)
            as epoch_no
    from (
        select
            epochs.*,
            plans.plan_no,
            {{ local_to_utc('plans.timezone', 'cast(epochs.epoch_from as timestamp)') }} as epoch_from_at,
            {{ local_to_utc('plans.timezone', 'cast(epochs.epoch_to as timestamp)') }} as epoch_to_at
        from epochs
        inner join {{ ref('int_tariff_plans_validated') }} as plans using (deck, rate_plan_id)
    ) as located
    cross join span
    where located.epoch_to_at > span.first_at and located.epoch_from_at <= span.last_at
),

active as (
    -- the prefixes with a rate in force throughout the epoch
    select numbered.epoch_no, rates.prefix, bool_or(rates.band = '*') as all_times
    from numbered
    inner join rates
        on rates.deck = numbered.deck and rates.rate_plan_id = numbered.rate_plan_id
        and rates.valid_from <= numbered.epoch_from and rates.valid_until >= numbered.epoch_to
    group by all
),

points as (
    -- where the owner can change: a prefix, and the first string after every string under it
    select distinct epoch_no, point
    from active, unnest([prefix, {{ prefix_successor('prefix') }}]) as t(point)
    where point is not null
),

owned as (
    -- a point's owner is the longest active prefix that starts it (none: a gap in the plan)
    select
        heads.epoch_no,
        heads.point,
        arg_max(active.prefix, length(active.prefix)) as prefix,
        arg_max(active.all_times, length(active.prefix)) as all_times
    from (
        select points.*, left(points.point, n) as head
        from points, unnest(range(1, length(points.point) + 1)) as t(n)
    ) as heads
    left join active
        on active.epoch_no = heads.epoch_no and active.prefix = heads.head
    group by all
)

select
    numbered.plan_no,
    numbered.deck,
    numbered.rate_plan_id,
    numbered.epoch_no,
    numbered.epoch_from,
    numbered.epoch_to,
    numbered.epoch_from_at,
    numbered.epoch_to_at,
    ranges.range_start,
    ranges.range_end,
    ranges.prefix,
    cast(dense_rank() over (order by ranges.epoch_no, ranges.prefix) as integer) as prefix_no,
    ranges.all_times
from (
    select
        epoch_no,
        {{ number_key('point') }} as range_start,
        coalesce({{ number_key('lead(point) over (partition by epoch_no order by point)') }},
            9223372036854775807) as range_end,
        prefix,
        all_times
    from owned
    qualify prefix is not null
) as ranges
inner join numbered using (epoch_no)
