-- Alerts of three detectors, so each can be judged (tollhouse fraud evaluate): `rules` alerts on a
-- critical rule; `model` on a score at or above the model's threshold; `combined` on a critical rule,
-- or on an anomalous score that a rule at least warns about. A detector's triggers on one account
-- make one alert until fraud_episode_gap_hours pass without one. Each day, the
-- fraud_daily_alert_budget most exposed alerts of a detector reach the queue (within_budget).
{{ config(materialized='table') }}

with scored as (
    select
        features.*,
        scores.model_score,
        scores.model_version,
        coalesce(scores.model_score >= scores.model_threshold, false) as is_anomalous
    from {{ ref('fct_fraud_features') }} as features
    left join {{ source('fraud', 'model_scores') }} as scores on scores.call_id = features.call_id
),

triggers as (
    select scored.*, detectors.detector
    from scored
    cross join (values ('rules'), ('model'), ('combined')) as detectors (detector)
    where case detectors.detector
        when 'rules' then scored.rule_severity = 2
        when 'model' then scored.is_anomalous
        else scored.rule_severity = 2 or (scored.is_anomalous and scored.rule_severity >= 1)
    end
),

{#- a rule with episode_gap_hours (slow fraud: one hit a day) keeps its episode open that long -#}
{%- set long_rules = var('fraud_rules') | selectattr('episode_gap_hours', 'defined') | list %}
marked as (
    select
        *,
        coalesce(
            end_at - lag(end_at) over by_account > to_hours(greatest({{ var('fraud_episode_gap_hours') }}
            {%- for rule in long_rules %}, case when {{ rule.id | replace('-', '_') | lower }} > 0
                then {{ rule.episode_gap_hours }} else 0 end{% endfor %})), true
        )::int as opens
    from triggers
    window by_account as (partition by detector, account_id order by end_at, call_id)
),

episodes as (
    select
        *,
        sum(opens) over (partition by detector, account_id order by end_at, call_id rows unbounded preceding)
            as episode
    from marked
),

alerts as (
    select
        detector,
        account_id,
        episode,
        min(end_at) as raised_at,
        max(end_at) as last_trigger_at,
        arg_min(call_id, (end_at, call_id)) as trigger_call_id,
        count(*) as triggers,
        max(model_score) as peak_model_score,
        arg_min(model_version, (end_at, call_id)) as model_version,
        list_sort(list_distinct(flatten(list(list_transform(rule_hits, hit -> split_part(hit, ' ', 1))))))
            as rules_hit
    from episodes
    group by detector, account_id, episode
),

-- What the alert's calls cost the operator: the account's calls from an hour before it was raised to
-- its last trigger (exposure so far), and in that hour before it was raised (exposure at the alert).
exposed as (
    select
        alerts.detector,
        alerts.account_id,
        alerts.episode,
        coalesce(sum(calls.exposure_eur), 0) as exposure_eur,
        coalesce(sum(calls.exposure_eur) filter (where calls.end_at <= alerts.raised_at), 0)
            as exposure_at_alert_eur,
        count(calls.call_id) as calls
    from alerts
    left join {{ ref('int_fraud_calls') }} as calls
        on calls.account_id = alerts.account_id
        and calls.end_at between alerts.raised_at - interval 1 hour and alerts.last_trigger_at
    group by alerts.detector, alerts.account_id, alerts.episode
)

select
    'FA-' || left(md5(alerts.detector || '|' || alerts.account_id || '|' || alerts.trigger_call_id), 10) as alert_id,
    alerts.detector,
    alerts.account_id,
    alerts.raised_at,
    cast(alerts.raised_at as date) as raised_on,
    alerts.last_trigger_at,
    alerts.trigger_call_id,
    alerts.triggers,
    alerts.peak_model_score,
    alerts.model_version,
    alerts.rules_hit,
    exposed.calls,
    exposed.exposure_eur,
    exposed.exposure_at_alert_eur,
    row_number() over (
        partition by alerts.detector, cast(alerts.raised_at as date)
        order by exposed.exposure_at_alert_eur desc, alerts.raised_at, alerts.account_id
    ) <= {{ var('fraud_daily_alert_budget') }} as within_budget
from alerts
inner join exposed using (detector, account_id, episode)
