-- UTC offsets of every switch time zone by local quarter-hour, for the days the landing zone covers
-- (two months back for late files). Converting a local time is then an equality join instead of a
-- time-zone computation per record. A local quarter-hour that happens twice (the hour clocks go back)
-- has two offsets; one that never happens (clocks go forward) has no row.
{{ config(materialized='table') }}

with zones as (
    select distinct timezone from {{ ref('stg_network__switches') }} where timezone <> 'UTC'
),

span as (
    select
        cast(min(delivery_date) - interval 62 day as timestamp) as first_at,
        cast(max(delivery_date) + interval 3 day as timestamp) as last_at
    from {{ source('raw', 'load_audit') }}
    where status <> 'refused'  -- a refused stray's day comes from its path or mtime: it bounds nothing
),

steps as (
    {{ quarter_hours('(select first_at from span)', '(select last_at from span)') }}
),

local_steps as (
    select
        zones.timezone,
        {{ utc_to_local('zones.timezone', 'steps.step_at') }} as local_at,
        steps.step_at as utc_at
    from zones cross join steps
)

select
    timezone,
    local_at,
    -- seconds to subtract from local time: the earlier occurrence first
    {{ epoch_seconds('local_at') }} - {{ epoch_seconds('min(utc_at)') }} as first_offset_s,
    case when count(*) > 1 then {{ epoch_seconds('local_at') }} - {{ epoch_seconds('max(utc_at)') }} end
        as second_offset_s
from local_steps
group by timezone, local_at
