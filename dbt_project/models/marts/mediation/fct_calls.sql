{{ config(materialized="view") }}  -- a filter of int_calls_identified: writing 10M calls again would cost 12 s
-- The unified call model (docs/mediation.md): one row per real call, owned by an account, with UTC
-- times, E.164 numbers and lineage to the file and line of its (first) record.
select
    call_id,
    source,
    switch_id,
    account_id,
    trunk_id,
    a_number,
    b_number,
    start_at,
    answer_at,
    end_at,
    cast(start_at as date) as call_date,
    billable_seconds,
    duration_seconds,
    disposition,
    q850_cause,
    call_type,
    direction,
    destination_country,
    route_id,
    account_matched_by,
    record_key,
    record_count,
    assembly,
    is_clock_corrected,
    file_id,
    line_no,
    delivery_date,
    mediated_on,
    -- held in suspense until its owner's assignment was delivered
    account_known_on > delivery_date as was_suspended
from {{ ref('int_calls_identified') }}
where status = 'mediated'
