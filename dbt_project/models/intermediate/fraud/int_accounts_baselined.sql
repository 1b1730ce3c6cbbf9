-- Each account's own normal, per day: its busiest, costliest, most concurrent and most high-risk hour over the
-- fraud_baseline_days before that day (the day itself excluded), and how many of those days had traffic.
{{ config(materialized='table') }}

with days as (
    select
        account_id,
        cast(hour_at as date) as day,
        max(calls) as peak_calls,
        max(exposure_eur) as peak_exposure_eur,
        max(peak_concurrent_calls) as peak_concurrent_calls,
        max(off_hours_calls) as peak_off_hours_calls,
        max(high_risk_calls) as peak_high_risk_calls
    from {{ ref('fct_fraud_account_hours') }}
    group by account_id, cast(hour_at as date)
),

calendar as (  -- every day an account has calls, and the day after its last (calls ending after midnight)
    select distinct account_id, day from days
    union
    select account_id, day + 1 from days
)

select
    calendar.account_id,
    calendar.day,
    count(days.day) as history_days,
    coalesce(max(days.peak_calls), 0) as peak_calls,
    coalesce(max(days.peak_exposure_eur), 0) as peak_exposure_eur,
    coalesce(max(days.peak_concurrent_calls), 0) as peak_concurrent_calls,
    coalesce(max(days.peak_off_hours_calls), 0) as peak_off_hours_calls,
    coalesce(max(days.peak_high_risk_calls), 0) as peak_high_risk_calls
from calendar
left join days
    on days.account_id = calendar.account_id
    and days.day < calendar.day
    and days.day >= calendar.day - {{ var('fraud_baseline_days') }}
group by calendar.account_id, calendar.day
