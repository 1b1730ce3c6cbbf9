{{ config(materialized="view") }}
-- Calls mediation holds back, with why and for how long: no owner at the call's start (`unknown_account`),
-- a partial call still missing parts (`orphan_partial`), or a start implausibly far from its file's
-- delivery day (`start_out_of_window`: a clock off until the NOC corrects it). Rebuilt on every run, so a
-- call leaves suspense as soon as what it waited for has been delivered. Age is in delivery days: the
-- latest day any switch file was delivered, less the day this call's (first) record was.
select
    calls.call_id,
    calls.reason,
    calls.source,
    calls.switch_id,
    calls.trunk_id,
    calls.a_number,
    calls.b_number,
    calls.start_at,
    calls.end_at,
    calls.billable_seconds,
    calls.duration_seconds,
    calls.disposition,
    calls.direction,
    calls.call_type,
    calls.record_key,
    calls.record_count,
    calls.file_id,
    calls.line_no,
    calls.delivery_date as held_since,
    {{ delivery_days_since('calls.delivery_date') }} as age_days
from {{ ref('int_calls_identified') }} as calls
where calls.status = 'suspended'
