-- Each trunk's capacity as its traffic shows it, per day: the most calls it carried at once on any of
-- the fraud_baseline_days before that day (the day itself excluded), and how many of those days had
-- traffic. The CRM orders channels per account, not per trunk, so a trunk's own peak is its capacity here.
{{ config(materialized='table') }}

with days as (
    select trunk_key, cast(end_at as date) as day, max(trunk_concurrent_calls) as peak_concurrent_calls
    from {{ ref('int_call_windows_aggregated') }}
    group by trunk_key, cast(end_at as date)
),

calendar as (
    select distinct trunk_key, day from days
    union
    select trunk_key, day + 1 from days
)

select
    calendar.trunk_key,
    calendar.day,
    count(days.day) as history_days,
    coalesce(max(days.peak_concurrent_calls), 0) as peak_concurrent_calls
from calendar
left join days
    on days.trunk_key = calendar.trunk_key
    and days.day < calendar.day
    and days.day >= calendar.day - {{ var('fraud_baseline_days') }}
group by calendar.trunk_key, calendar.day
