-- What a streaming detector knows of an account when a call's CDR arrives (at the call's end): its
-- calls that ended in the hour (and day) before, counted, summed and flagged. Window frames over
-- end_at, so a feature never uses a call that had not ended yet.
{{ config(materialized='table') }}

with calls as (
    select * from {{ ref('int_fraud_calls') }}
)

select
    call_id,
    account_id,
    start_at,
    end_at,
    created_date,
    count(*) over last_hour as calls_1h,
    count(*) filter (where is_answered) over last_hour as answered_1h,
    sum(billable_seconds) over last_hour / 60.0 as minutes_1h,
    sum(charge_eur) over last_hour as charge_1h_eur,
    sum(exposure_eur) over last_hour as exposure_1h_eur,
    sum(exposure_eur) over last_day as exposure_24h_eur,
    count(*) filter (where is_high_risk) over last_hour as high_risk_calls_1h,
    count(*) filter (where is_short) over last_hour as short_calls_1h,
    count(*) filter (where is_off_hours) over last_hour as off_hours_calls_1h,
    count(*) filter (where is_new_destination) over last_hour as new_destinations_1h,
    count(distinct b_number) over last_hour as distinct_numbers_1h,
    -- concurrency as far as CDRs tell: calls of the account that ended while this one was up, in its last
    -- 15 minutes (itself included). Capped, so that one long call does not count hours of traffic.
    count(*) over (
        partition by account_id order by end_at
        range between least(end_at - start_at, interval 15 minutes) preceding and current row
    ) as concurrent_calls,
    -- Wangiri callbacks: how many accounts' users rang this number in 6 hours. Only numbers in the
    -- high-risk ranges; and accounts, not callers: one account's staff calling their supplier or family
    -- abroad is one account (the training mix's false alerts counted callers)
    case when is_high_risk then count(distinct account_id) over (
        partition by b_number order by end_at range between interval 6 hours preceding and current row
    ) else 0 end as callback_accounts_6h
from calls
window
    last_hour as (partition by account_id order by end_at range between interval 1 hour preceding and current row),
    last_day as (partition by account_id order by end_at range between interval 24 hours preceding and current row)
