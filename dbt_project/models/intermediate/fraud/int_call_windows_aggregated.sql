-- What a streaming detector knows of an account when a call's CDR arrives (at the call's end): its
-- calls that ended in the hour (and day, and week) before, counted, summed and flagged. Window frames over
-- end_at, so a feature never uses a call that had not ended yet.
{{ config(materialized='table') }}

with calls as (
    select * from {{ ref('int_outbound_calls_costed') }}
),

windows as (
    select
        call_id,
        account_id,
        b_number,
        trunk_key,
        range_key,
        start_at,
        end_at,
        created_date,
        account_first_at,
        count(*) over last_hour as calls_1h,
        count(*) filter (where is_answered) over last_hour as answered_1h,
        sum(billable_seconds) over last_hour / 60.0 as minutes_1h,
        sum(charge_eur) over last_hour as charge_1h_eur,
        sum(exposure_eur) over last_hour as exposure_1h_eur,
        sum(exposure_eur) filter (where exposure_is_estimate) over last_hour as estimated_exposure_1h_eur,
        count(*) filter (where not is_rated) over last_hour as unrated_calls_1h,
        sum(exposure_eur) over last_day as exposure_24h_eur,
        count(*) filter (where is_high_risk) over last_hour as high_risk_calls_1h,
        count(*) filter (where is_known_high_risk) over last_hour as known_high_risk_calls_1h,
        count(*) filter (where is_short) over last_hour as short_calls_1h,
        count(*) filter (where is_off_hours) over last_hour as off_hours_calls_1h,
        count(*) filter (where is_new_destination) over last_hour as new_destinations_1h,
        count(*) filter (where is_new_range_for_account) over last_hour as new_ranges_1h,
        count(distinct b_number) over last_hour as distinct_numbers_1h,
        count(distinct a_number) over last_hour as distinct_callers_1h,
        -- SIM-box / bypass: how many numbers this call's calling number rang in the hour, and how alike
        -- the lengths of its answered calls are (coefficient of variation)
        count(distinct b_number) over caller_hour as caller_numbers_1h,
        count(*) filter (where is_answered) over caller_hour as caller_answered_1h,
        stddev_pop(billable_seconds) filter (where is_answered) over caller_hour
            / nullif(avg(billable_seconds) filter (where is_answered) over caller_hour, 0) as caller_duration_cv_1h,
        -- the same over fraud_simbox_window_hours: a box that spreads its traffic over the day
        count(distinct b_number) over caller_window as caller_numbers_window,
        count(*) filter (where is_answered) over caller_window as caller_answered_window,
        stddev_pop(billable_seconds) filter (where is_answered) over caller_window
            / nullif(avg(billable_seconds) filter (where is_answered) over caller_window, 0) as caller_duration_cv_window,
        -- Wangiri: calls back to a number (block) that had rung the account briefly (int_outbound_calls_costed)
        count(*) filter (where is_wangiri_callback) over (
            partition by account_id order by end_at range between interval 6 hours preceding and current row
        ) as wangiri_callbacks_6h,
        -- concurrency as far as CDRs tell: calls of the account that ended while this one was up, in its last
        -- 15 minutes (itself included). Capped, so that one long call does not count hours of traffic.
        count(*) over (
            partition by account_id order by end_at
            range between least(end_at - start_at, interval 15 minutes) preceding and current row
        ) as concurrent_calls,
        -- the same on the trunk that carried the call: a hijacked PBX fills its trunk's channels
        count(*) over (
            partition by trunk_key order by end_at
            range between least(end_at - start_at, interval 15 minutes) preceding and current row
        ) as trunk_concurrent_calls,
        -- slow persistent fraud: spend on one range over the last fraud_slow_window_days, against the
        -- account's spend on it in the fraud_baseline_days before that window (a fixed reference the
        -- window's own traffic never enters)
        sum(exposure_eur) over (
            partition by account_id, range_key order by end_at
            range between interval {{ var('fraud_slow_window_days') }} days preceding and current row
        ) as range_exposure_window_eur,
        -- calendar days from the window's first call on the range to this one (cheaper than counting days)
        date_diff('day', min(end_at) over (
            partition by account_id, range_key order by end_at
            range between interval {{ var('fraud_slow_window_days') }} days preceding and current row
        ), end_at) + 1 as range_days_window,
        coalesce(sum(exposure_eur) over (
            partition by account_id, range_key order by end_at
            range between interval {{ var('fraud_slow_window_days') + var('fraud_baseline_days') }} days preceding
                and interval {{ var('fraud_slow_window_days') }} days preceding
        ), 0) as range_exposure_reference_eur,
        -- Wangiri callbacks: how many accounts' users rang this number in 6 hours. Only numbers in the
        -- high-risk ranges; and accounts, not callers: one account's staff calling their supplier or family
        -- abroad is one account (the training mix's false alerts counted callers)
        case when is_high_risk then count(distinct account_id) over (
            partition by b_number order by end_at range between interval 6 hours preceding and current row
        ) else 0 end as callback_accounts_6h
    from calls
    window
        last_hour as (partition by account_id order by end_at range between interval 1 hour preceding and current row),
        last_day as (partition by account_id order by end_at range between interval 24 hours preceding and current row),
        caller_hour as (
            partition by account_id, a_number order by end_at range between interval 1 hour preceding and current row
        ),
        caller_window as (
            partition by account_id, a_number order by end_at
            range between interval {{ var('fraud_simbox_window_hours') }} hours preceding and current row
        )
)

select * from windows
