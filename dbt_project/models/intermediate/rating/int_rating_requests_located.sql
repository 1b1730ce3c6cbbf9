-- Every rating request with where rating finds it: its plan, the prefix its number matches in the
-- plan's epoch at the call's start (one ASOF JOIN on flattened ranges, int_tariff_prefixes_flattened), the
-- band interval it was answered in, and whether it crosses into another interval (band_mode split, not
-- an all-times rate). A request that cannot be located keeps null columns; int_calls_rated says why.
-- A table, because int_calls_rated reads it three times (calls in one band, across bands, unpriced).
{{ config(materialized='table') }}

with requests as (
    select * from {{ ref('int_rating_requests_selected') }}
),

plans as (
    select * from {{ ref('int_tariff_plans_validated') }}
),

epochs as (
    select distinct plan_no, epoch_no, epoch_from_at, epoch_to_at from {{ ref('int_tariff_prefixes_flattened') }}
),

keyed as (
    select requests.request_no, epochs.epoch_no, {{ number_key('requests.b_number') }} as number_key
    from requests
    inner join plans using (deck, rate_plan_id)
    inner join epochs
        on epochs.plan_no = plans.plan_no
        and requests.answer_at >= epochs.epoch_from_at and requests.answer_at < epochs.epoch_to_at
    where requests.request_error is null
),

matches as (
    -- the ASOF JOIN sorts what it carries: only the request number and the key go through it
    select keyed.request_no, ranges.prefix_no, ranges.all_times
    from keyed
    asof inner join {{ ref('int_tariff_prefixes_flattened') }} as ranges
        on ranges.epoch_no = keyed.epoch_no and keyed.number_key >= ranges.range_start
    where keyed.number_key < ranges.range_end
),

calendar_hours as (
    -- each band interval listed under every UTC hour it overlaps: a call finds its interval by an
    -- equality join on (plan, hour), then the range test, instead of an ASOF JOIN over every call
    select calendar.*, hour_at
    from {{ ref('int_tariff_bands_laid_out') }} as calendar,
        unnest(generate_series(date_trunc('hour', calendar.from_at), calendar.to_at - interval 1 microsecond,
            interval 1 hour)) as t(hour_at)
)

select
    requests.request_no,
    requests.call_id,
    requests.deck,
    requests.rate_plan_id,
    requests.account_id,
    requests.route_id,
    requests.vendor_id,
    requests.answer_at,
    requests.billable_seconds,
    requests.request_error,
    plans.plan_no,
    matches.prefix_no,
    matches.all_times,
    answered.band as answer_band,
    answered.interval_no as first_interval,
    coalesce(plans.band_mode = 'split' and not matches.all_times and requests.billable_seconds > 0
        and requests.answer_at + {{ seconds('requests.billable_seconds - 1') }} >= answered.to_at, false) as crosses
from requests
left join plans using (deck, rate_plan_id)
left join matches using (request_no)
left join calendar_hours as answered
    on answered.plan_no = plans.plan_no and answered.hour_at = date_trunc('hour', requests.answer_at)
    and requests.answer_at >= answered.from_at and requests.answer_at < answered.to_at
