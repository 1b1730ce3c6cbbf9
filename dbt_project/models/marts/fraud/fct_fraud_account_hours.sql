-- One row per account and UTC hour with outbound traffic (by call start): the hourly fraud features,
-- for the analyst's timeline and the accounts' baselines.
with calls as (
    select calls.*, windows.concurrent_calls
    from {{ ref('int_outbound_calls_costed') }} as calls
    inner join {{ ref('int_call_windows_aggregated') }} as windows on windows.call_id = calls.call_id
)

select
    account_id,
    date_trunc('hour', start_at) as hour_at,
    count(*) as calls,
    count(*) filter (where is_answered) as answered_calls,
    round(sum(billable_seconds) / 60.0, 2) as minutes,
    sum(charge_eur) as charge_eur,
    sum(exposure_eur) as exposure_eur,
    max(concurrent_calls) as peak_concurrent_calls,
    count(distinct b_number) as distinct_numbers,
    count(distinct destination_country) as distinct_countries,
    count(*) filter (where is_high_risk) as high_risk_calls,
    round(avg(is_high_risk::int), 4) as high_risk_share,
    round(coalesce(avg(is_short::int) filter (where is_answered), 0), 4) as short_call_ratio,
    round(avg(is_night::int), 4) as night_share,
    round(avg(is_weekend::int), 4) as weekend_share,
    round(avg(is_off_hours::int), 4) as off_hours_share,
    count(*) filter (where is_off_hours) as off_hours_calls,
    count(*) filter (where is_new_destination) as new_destination_calls
from calls
group by account_id, date_trunc('hour', start_at)
