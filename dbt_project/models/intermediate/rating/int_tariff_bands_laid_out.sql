-- Each plan's time bands laid out in UTC over the days its calls span: consecutive stretches of one band
-- merged into one interval [from_at, to_at), numbered in order, holidays taking the whole local day.
-- A call is then split where it crosses from one interval into the next (docs/rating.md).
{{ config(materialized='table') }}

with span as (
    select
        cast(min(answer_at) as date) - 2 as first_day,
        cast(max(answer_at + {{ seconds('billable_seconds') }}) as date) + 2 as last_day
    from {{ ref('int_rating_requests_selected') }}
),

plans as (
    select * from {{ ref('int_tariff_plans_validated') }}
),

days as (
    select plans.plan_no, plans.deck, plans.rate_plan_id, plans.timezone, cast(day as date) as local_day
    from plans
    cross join (
        select unnest(generate_series(first_day, last_day, interval 1 day)) as day from span
    ) as days
),

holidays as (
    select deck, rate_plan_id, holiday_date as local_day, band from ({{ tariff_rows('holidays') }})
),

weekly as (
    select * from {{ ref('int_tariff_bands_expanded') }}
),

local_intervals as (
    select days.plan_no, days.deck, days.rate_plan_id, days.timezone, holidays.band,
        cast(days.local_day as timestamp) as local_from,
        cast(days.local_day + 1 as timestamp) as local_to
    from days
    inner join holidays using (deck, rate_plan_id, local_day)
    union all
    select days.plan_no, days.deck, days.rate_plan_id, days.timezone, weekly.band,
        days.local_day + {{ seconds('weekly.start_second') }},
        days.local_day + {{ seconds('weekly.end_second') }}
    from days
    inner join weekly
        on weekly.deck = days.deck and weekly.rate_plan_id = days.rate_plan_id
        and weekly.weekday = isodow(days.local_day)
    where not exists (
        select 1 from holidays
        where holidays.deck = days.deck and holidays.rate_plan_id = days.rate_plan_id
            and holidays.local_day = days.local_day
    )
),

islands as (
    select
        *,
        sum(case when band = previous_band then 0 else 1 end) over (
            partition by deck, rate_plan_id order by local_from rows between unbounded preceding and current row
        ) as island
    from (
        select *, lag(band) over (partition by deck, rate_plan_id order by local_from) as previous_band
        from local_intervals
    ) as ordered
)

select
    plan_no,
    deck,
    rate_plan_id,
    band,
    cast(row_number() over (partition by deck, rate_plan_id order by min(local_from)) as integer) as interval_no,
    {{ local_to_utc('any_value(timezone)', 'min(local_from)') }} as from_at,
    {{ local_to_utc('any_value(timezone)', 'max(local_to)') }} as to_at
from islands
group by plan_no, deck, rate_plan_id, band, island
