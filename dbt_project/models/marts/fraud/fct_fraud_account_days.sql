-- One row per account and UTC day with outbound traffic: the daily fraud features, with the day against
-- the account's own baseline (int_accounts_baselined: the fraud_baseline_days before it).
with calls as (
    select * from {{ ref('int_outbound_calls_costed') }}
),

days as (
    select
        account_id,
        cast(start_at as date) as day,
        count(*) as calls,
        count(*) filter (where is_answered) as answered_calls,
        round(sum(billable_seconds) / 60.0, 2) as minutes,
        sum(charge_eur) as charge_eur,
        sum(exposure_eur) as exposure_eur,
        count(distinct b_number) as distinct_numbers,
        count(distinct destination_country) as distinct_countries,
        round(avg(is_high_risk::int), 4) as high_risk_share,
        round(coalesce(avg(is_short::int) filter (where is_answered), 0), 4) as short_call_ratio,
        round(avg(is_night::int), 4) as night_share,
        round(avg(is_weekend::int), 4) as weekend_share,
        count(*) filter (where is_new_destination) as new_destination_calls
    from calls
    group by account_id, cast(start_at as date)
),

hours as (
    select account_id, cast(hour_at as date) as day, max(peak_concurrent_calls) as peak_concurrent_calls,
        max(exposure_eur) as peak_hour_exposure_eur
    from {{ ref('fct_fraud_account_hours') }}
    group by account_id, cast(hour_at as date)
)

select
    days.*,
    hours.peak_concurrent_calls,
    hours.peak_hour_exposure_eur,
    baselines.history_days,
    -- the day's busiest hour against the account's busiest baseline hour (null without enough history)
    case when baselines.history_days >= {{ var('fraud_min_history_days') }}
        then round(hours.peak_hour_exposure_eur / greatest(baselines.peak_exposure_eur, {{ var('fraud_min_exposure_eur') }}), 3)
    end as peak_exposure_ratio,
    case when baselines.history_days >= {{ var('fraud_min_history_days') }}
        then round(hours.peak_concurrent_calls / greatest(baselines.peak_concurrent_calls, 2), 3)
    end as peak_concurrency_ratio
from days
inner join hours using (account_id, day)
left join {{ ref('int_accounts_baselined') }} as baselines using (account_id, day)
