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

{#- A rule with episode_gap_hours (slow fraud: one hit a day) keeps its episode open that long on the triggers
    where it is the only critical rule: `lingering`. Any other trigger joins the episode only within
    fraud_episode_gap_hours of the last such other trigger, or of a lingering trigger that opened the episode
    after it (a burst on a range the slow rule already watches is one alert); so a new attack on an account in
    a slow episode is a new alert, however recently the slow rule hit. -#}
{%- set long_rules = var('fraud_rules') | selectattr('episode_gap_hours', 'defined') | list %}
{%- set short_rules = var('fraud_rules') | rejectattr('episode_gap_hours', 'defined') | list %}
kinds as (
    select
        *,
        {%- if long_rules %}
        ({% for rule in long_rules %}{{ rule.id | replace('-', '_') | lower }} = 2{{ " or " if not loop.last }}{% endfor %})
            and greatest({% for rule in short_rules %}{{ rule.id | replace('-', '_') | lower }}{{ ", " if not loop.last }}{% endfor %}) < 2
        {%- else %}
        false
        {%- endif %} as lingering,
        greatest({{ var('fraud_episode_gap_hours') }}
            {%- for rule in long_rules %}, case when {{ rule.id | replace('-', '_') | lower }} = 2 then {{ rule.episode_gap_hours }} else 0 end
            {%- endfor %}) as gap_hours,
        lag(end_at) over by_account as previous_at
    from triggers
    window by_account as (partition by detector, account_id order by end_at, call_id)
),

lingering_opens as (
    select
        *,
        case when lingering and (previous_at is null or end_at - previous_at > to_hours(gap_hours))
            then end_at end as lingering_opened_at
    from kinds
),

marked as (
    select
        * exclude (last_other_at, last_lingering_opened_at),
        case
            when lingering then lingering_opened_at is not null
            else not coalesce(end_at - last_other_at <= to_hours({{ var('fraud_episode_gap_hours') }}), false)
                and not coalesce(last_lingering_opened_at > coalesce(last_other_at, '-infinity'::timestamp)
                    and end_at - last_lingering_opened_at <= to_hours({{ var('fraud_episode_gap_hours') }}), false)
        end::int as opens
    from (
        select
            *,
            max(case when not lingering then end_at end) over before as last_other_at,
            max(lingering_opened_at) over before as last_lingering_opened_at
        from lingering_opens
        window before as (
            partition by detector, account_id order by end_at, call_id rows between unbounded preceding and 1 preceding
        )
    )
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
    left join {{ ref('int_outbound_calls_costed') }} as calls
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
