-- One row per outbound call: the account's trailing-window features when the call's CDR arrived,
-- ratios against the account's own baseline (int_accounts_baselined, the days before), and each rule of
-- var fraud_rules: 0 quiet, 1 warning, 2 critical. The model (orchestration/fraud) scores these rows;
-- int_fraud_alerts_triggered turns rule hits and scores into alerts.
{%- set rules = var('fraud_rules') %}

with windows as (
    select * from {{ ref('int_call_windows_aggregated') }}
),

features as (
    select
        windows.*,
        coalesce(baselines.history_days, 0) as history_days,
        date_diff('day', windows.created_date, cast(windows.end_at as date)) as account_age_days,
        -- against the account's own baseline; 0 until it has fraud_min_history_days of history
        case when baselines.history_days >= {{ var('fraud_min_history_days') }} then struct_pack(
            exposure_ratio := case when windows.exposure_1h_eur >= {{ var('fraud_min_exposure_eur') }}
                then round(windows.exposure_1h_eur
                    / greatest(baselines.peak_exposure_eur, {{ var('fraud_min_exposure_eur') }}), 3)
                else 0 end,
            concurrency_ratio := round(windows.concurrent_calls / greatest(baselines.peak_concurrent_calls, 2), 3),
            off_hours_calls_ratio := round(windows.off_hours_calls_1h / greatest(baselines.peak_off_hours_calls, 3), 3),
            calls_ratio := round(windows.calls_1h / greatest(baselines.peak_calls, 5), 3)
        ) else struct_pack(exposure_ratio := 0, concurrency_ratio := 0, off_hours_calls_ratio := 0, calls_ratio := 0)
        end as ratios,
        -- calls to the high-risk ranges beyond the account's busiest such hour of its baseline and that hour's
        -- Poisson noise (its square root): customers with family or suppliers there call them every week, and a
        -- busy account's count of them swings. Without a baseline (under fraud_min_history_days) only the
        -- subscribed list and premium numbers abroad count (int_outbound_calls_costed.is_known_high_risk): dear, new or
        -- domestic premium ranges are what ordinary young accounts call, and need a normal to compare with
        case when baselines.history_days >= {{ var('fraud_min_history_days') }}
            then windows.high_risk_calls_1h - baselines.peak_high_risk_calls
                - ceil(sqrt(baselines.peak_high_risk_calls))::int
            else windows.known_high_risk_calls_1h end as high_risk_excess_1h,
        case when windows.created_date > cast(windows.end_at as date) - {{ var('fraud_new_account_days') }}
            then windows.exposure_24h_eur else 0 end as new_account_exposure_24h,
        -- calls up at once on the trunk against the most it carried on a day of its baseline (its capacity
        -- as traffic shows it), floored at fraud_min_trunk_capacity
        coalesce(trunks.history_days, 0) as trunk_history_days,
        case when trunks.history_days >= {{ var('fraud_min_history_days') }}
            then round(windows.trunk_concurrent_calls
                / greatest(trunks.peak_concurrent_calls, {{ var('fraud_min_trunk_capacity') }}), 3)
            else 0 end as trunk_capacity_ratio,
        -- SIM-box / bypass: the numbers one calling number rang in the last hour, when its answered calls
        -- are many and alike in length (coefficient of variation at most fraud_simbox_max_cv); else 0
        case when windows.caller_answered_1h >= {{ var('fraud_simbox_min_calls') }}
                and windows.caller_duration_cv_1h <= {{ var('fraud_simbox_max_cv') }}
            then windows.caller_numbers_1h else 0 end as uniform_callees_1h,
        -- the same test over fraud_simbox_window_hours: a box spreading its calls thinly over the day
        case when windows.caller_answered_window >= {{ var('fraud_simbox_min_calls') }}
                and windows.caller_duration_cv_window <= {{ var('fraud_simbox_max_cv') }}
            then windows.caller_numbers_window else 0 end as uniform_callees_window,
        -- slow persistent fraud: spend on the call's range over the window, spanning at least
        -- fraud_slow_min_days calendar days (one burst is the hourly rules' business), against the account's spend on it in the days
        -- before the window, scaled to the window (from fraud_slow_min_reference_eur)
        reference.days as range_reference_days,
        case when reference.days >= {{ var('fraud_min_history_days') }}
                and windows.range_exposure_window_eur >= {{ var('fraud_slow_min_spend_eur') }}
                and windows.range_days_window >= {{ var('fraud_slow_min_days') }}
            then round(windows.range_exposure_window_eur / greatest(
                windows.range_exposure_reference_eur * {{ var('fraud_slow_window_days') }} / reference.days,
                {{ var('fraud_slow_min_reference_eur') }}), 3)
            else 0 end as range_spend_ratio
    from windows
    left join {{ ref('int_accounts_baselined') }} as baselines
        on baselines.account_id = windows.account_id and baselines.day = cast(windows.end_at as date)
    left join {{ ref('int_trunks_baselined') }} as trunks
        on trunks.trunk_key = windows.trunk_key and trunks.day = cast(windows.end_at as date)
    cross join lateral (
        select least(greatest(floor((epoch(windows.end_at) - epoch(windows.account_first_at)) / 86400)
            - {{ var('fraud_slow_window_days') }}, 0), {{ var('fraud_baseline_days') }}) as days
    ) as reference
),

flat as (
    select * exclude (ratios), ratios.* from features
),

severities as (
    select
        *,
        {%- for rule in rules %}
        case
            when {{ rule.feature }} >= {{ rule.critical }} then 2
            when {{ rule.feature }} >= {{ rule.warning }} then 1
            else 0
        end as {{ rule.id | replace('-', '_') | lower }}{{ "," if not loop.last }}
        {%- endfor %}
    from flat
)

select
    *,
    greatest({% for rule in rules %}{{ rule.id | replace('-', '_') | lower }}{{ ", " if not loop.last }}{% endfor %}) as rule_severity,
    {%- for rule in rules %}
    ({{ rule.id | replace('-', '_') | lower }} > 0)::int{{ " +" if not loop.last }}
    {%- endfor %} as rules_hit,
    -- the hits as text an analyst reads: "FR-01 critical: high_risk_calls_1h 5 >= 4"
    list_filter([
        {%- for rule in rules %}
        case {{ rule.id | replace('-', '_') | lower }}
            when 2 then '{{ rule.id }} critical: {{ rule.feature }} ' || {{ rule.feature }} || ' >= {{ rule.critical }}'
            when 1 then '{{ rule.id }} warning: {{ rule.feature }} ' || {{ rule.feature }} || ' >= {{ rule.warning }}'
        end{{ "," if not loop.last }}
        {%- endfor %}
    ], hit -> hit is not null) as rule_hits
from severities
