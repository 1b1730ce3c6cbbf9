-- RA-17 Silent hours: per switch and per trunk (fct_calls' switch_id, trunk_id; the call's UTC start hour),
-- an hour with no calls, or far fewer than its comparable hours (same UTC hour, same day type,
-- ra_capture_history_weeks either side; judged as macros/ra_capture.sql says) carry: `switch_silent_hour`,
-- `trunk_silent_hour`. Not reported again: a switch hour whose files are missing, empty or unread (RA-16,
-- RA-01 say so); a silent switch hour and its silent trunk hours are one loss (see switch_shortfall). Valued like
-- RA-16: per currency, median calls x median rated charge per call of the comparable hours (an estimate).
{{ config(materialized='table') }}
with customer_rated as (
    -- each call's price at its customer plan (what fct_rated_calls carries, without its vendor-cost joins)
    select call_id, currency, cost from {{ ref('int_calls_rated') }} where deck = 'customer' and rating_error is null
),

calls as (
    select call_id, switch_id, trunk_id, date_trunc('hour', start_at) as hour_at
    from {{ ref('fct_calls') }}
    where switch_id is not null
),

trunks as (
    -- a trunk's switch: the one carrying most of its calls
    select trunk_id, arg_max(switch_id, calls) as switch_id
    from (select trunk_id, switch_id, count(*) as calls from calls where trunk_id is not null group by all)
    group by trunk_id
),

unit_calls as (
    select call_id, 'switch ' || switch_id as unit, hour_at from calls
    union all
    select call_id, 'trunk ' || trunk_id, hour_at from calls where trunk_id is not null
),

-- calls held in mediation suspense were carried too (RA-11 ages them): they count, without a price
held as (
    select 'switch ' || switch_id as unit, date_trunc('hour', start_at) as hour_at
    from {{ ref('fct_suspense') }} where switch_id is not null and start_at is not null
    union all
    select 'trunk ' || trunk_id, date_trunc('hour', start_at)
    from {{ ref('fct_suspense') }} where trunk_id is not null and start_at is not null
),

traffic as (
    select unit_calls.unit, unit_calls.hour_at, rated.currency, count(*) as calls, sum(rated.cost) as charge
    from unit_calls
    left join customer_rated as rated using (call_id)
    group by unit_calls.unit, unit_calls.hour_at, rated.currency
),

totals as (
    select unit, hour_at, sum(calls) as calls
    from (select unit, hour_at, calls from traffic union all select unit, hour_at, 1 from held)
    group by unit, hour_at
),

zones as (
    {{ ra_capture_zones('unit_calls') }}
),

units as (
    select unit, min(hour_at) as first_hour, max(hour_at) as last_hour, any_value(zones.timezone) as timezone
    from totals
    left join zones using (unit)
    group by unit
),

grid as (
    {{ ra_capture_grid('units') }}
),

comparable as (
    {{ ra_capture_comparable('grid') }}
),

judged as (
    select
        judged.*,
        split_part(judged.unit, ' ', 1) as kind,
        substr(judged.unit, strpos(judged.unit, ' ') + 1) as unit_id
    from ({{ ra_capture_judged('grid', 'comparable', 'totals') }}) as judged
    where judged.is_short
),

switch_shortfall as (
    select
        silent_switch.unit_id as switch_id,
        silent_switch.hour_at,
        coalesce(sum(judged.expected_calls - judged.calls), 0)
            >= 0.5 * (silent_switch.expected_calls - silent_switch.calls) as trunks_explain
    from judged as silent_switch
    left join trunks on trunks.switch_id = silent_switch.unit_id
    left join judged on judged.kind = 'trunk' and judged.unit_id = trunks.trunk_id
        and judged.hour_at = silent_switch.hour_at
    where silent_switch.kind = 'switch'
    group by silent_switch.unit_id, silent_switch.hour_at, silent_switch.expected_calls, silent_switch.calls
),

-- switch hours a file explains: a switch naming its files by hour whose files of that hour loaded no line
-- (none arrived, empty, quarantined, refused)
file_switches as (
    select distinct unit as switch_id from {{ ref('int_ra_switch_files_parsed') }} where hour_at is not null
),

loaded_hours as (
    select distinct unit as switch_id, hour_at
    from {{ ref('int_ra_switch_files_parsed') }}
    where hour_at is not null and status = 'loaded' and rows_loaded > 0
),

explained as (
    select judged.kind, judged.unit_id, judged.hour_at
    from judged
    left join trunks on judged.kind = 'trunk' and trunks.trunk_id = judged.unit_id
    inner join file_switches
        on file_switches.switch_id = case judged.kind when 'switch' then judged.unit_id else trunks.switch_id end
    anti join loaded_hours
        on loaded_hours.switch_id = file_switches.switch_id and loaded_hours.hour_at = judged.hour_at

    union all

    -- a silent switch hour and silent trunk hours of that switch: one finding for one loss. The trunks are the
    -- finding when their shortfall makes at least half of the switch's (a trunk went quiet, the switch
    -- with it); else the switch is (the trunks only show the switch's loss)
    select judged.kind, judged.unit_id, judged.hour_at
    from judged
    inner join trunks on judged.kind = 'trunk' and trunks.trunk_id = judged.unit_id
    inner join switch_shortfall
        on switch_shortfall.switch_id = trunks.switch_id and switch_shortfall.hour_at = judged.hour_at
    where not switch_shortfall.trunks_explain

    union all

    select 'switch', switch_id, hour_at from switch_shortfall where trunks_explain
),

short as (
    select judged.*
    from judged
    anti join explained using (kind, unit_id, hour_at)
),

valued as (
    {{ ra_capture_valued('short', 'comparable', 'traffic') }}
),

silent as (
    select
        short.*,
        valued.currency,
        valued.median_calls,
        valued.median_charge,
        cast(round(coalesce(valued.median_calls * valued.median_charge, 0), 6) as decimal(18, 6)) as estimate,
        count(*) over (partition by short.unit, short.hour_at) as currencies
    from short
    left join valued using (unit, hour_at)
)

select
    {{ ra_finding('RA-17', "kind || '_silent_hour'", 'null', "date_trunc('month', hour_at)", 'currency',
                  "unit_id || '|' || strftime(hour_at, '%Y-%m-%dT%H')
                   || case when currencies > 1 then '|' || currency else '' end",
                  'estimate', '0', 'estimate', "case when estimate > 0 then 'under_billing' else 'none' end",
                  '[]::varchar[]', '0',
                  "kind || ' ' || unit_id || ' ' || strftime(hour_at, '%Y-%m-%d %H:00') || ' UTC: ' || calls
                   || ' calls against a median of ' || expected_calls || ' in the ' || history_hours
                   || ' comparable hours; estimated from ' || history_hours || ' comparable days'
                   || coalesce(': median ' || median_calls || ' calls in ' || currency || ' x median '
                               || round(median_charge, 6) || ' per call', ': no rated calls')") }}
from silent
