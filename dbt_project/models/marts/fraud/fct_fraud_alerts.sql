-- The fraud alert queue: the combined detector's alerts within the daily budget, most exposed first,
-- with why each was raised (the rules hit, the model's score, the features at the triggering call, and
-- the drivers: those of them above the 99th percentile of every call's) and the analyst's decision (status
-- open until confirmed or dismissed in the case store).
{%- set drivers = ['calls_1h', 'exposure_1h_eur', 'exposure_ratio', 'concurrency_ratio', 'off_hours_calls_ratio',
                   'high_risk_calls_1h', 'new_destinations_1h', 'callback_accounts_6h', 'new_account_exposure_24h',
                   'wangiri_callbacks_6h', 'trunk_capacity_ratio', 'uniform_callees_1h', 'uniform_callees_window', 'range_spend_ratio',
                   'estimated_exposure_1h_eur'] %}
with alerts as (
    select * from {{ ref('int_fraud_alerts_triggered') }} where detector = 'combined' and within_budget
),

decisions as (
    select * from {{ source('fraud', 'alert_decisions') }}
),

usual as (  -- what is unusual for any call: the 99th percentile of each driver
    select
        {%- for name in drivers %}
        approx_quantile({{ name }}, 0.99) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('fct_fraud_features') }}
)

select
    alerts.alert_id,
    alerts.account_id,
    alerts.raised_at,
    alerts.raised_on,
    alerts.last_trigger_at,
    alerts.trigger_call_id,
    alerts.triggers,
    alerts.peak_model_score as model_score,
    alerts.model_version,
    alerts.rules_hit,
    features.rule_hits as reasons,
    list_filter([
        {%- for name in drivers %}
        case when features.{{ name }} > greatest(usual.{{ name }}, 0)
            then '{{ name }} ' || round(features.{{ name }}, 3) || ' (p99 ' || round(usual.{{ name }}, 3) || ')' end
        {{- "," if not loop.last }}
        {%- endfor %}
    ], driver -> driver is not null) as drivers,
    struct_pack(
        features.calls_1h,
        features.minutes_1h,
        features.exposure_1h_eur,
        features.exposure_ratio,
        features.concurrent_calls,
        features.concurrency_ratio,
        features.off_hours_calls_ratio,
        features.high_risk_calls_1h,
        features.high_risk_excess_1h,
        features.new_destinations_1h,
        features.callback_accounts_6h,
        features.new_account_exposure_24h,
        features.history_days,
        features.estimated_exposure_1h_eur,
        features.unrated_calls_1h,
        features.wangiri_callbacks_6h,
        features.trunk_concurrent_calls,
        features.trunk_capacity_ratio,
        features.uniform_callees_1h,
        features.uniform_callees_window,
        features.range_exposure_window_eur,
        features.range_spend_ratio
    ) as features_at_trigger,
    alerts.calls,
    cast(alerts.exposure_eur as decimal(18, 2)) as exposure_eur,
    cast(alerts.exposure_at_alert_eur as decimal(18, 2)) as exposure_at_alert_eur,
    coalesce(decisions.status, 'open') as status,
    decisions.decided_by,
    decisions.decided_at
from alerts
inner join {{ ref('fct_fraud_features') }} as features on features.call_id = alerts.trigger_call_id
left join decisions on decisions.alert_id = alerts.alert_id
cross join usual
