-- The SIP-trunk carrier's CSV in tollhouse's CDR vocabulary: UTC times, Q.850 release causes, and
-- `partial` records of long calls that share call_ref.
select
    file_id,
    line_no,
    'carrier' as source,
    record_id as record_key,
    record_type,
    nullif(call_ref, '') as call_ref,
    {{ strict_count('partial_seq') }} as partial_seq,
    is_last_partial = '1' as is_last_partial,
    cast(null as varchar) as context,
    nullif(trunk_id, '') as trunk_id,
    cast(null as varchar) as accountcode,
    calling_number as a_dialled,
    called_number as b_dialled,
    'utc' as time_basis,
    start_time_utc as start_text,
    answer_time_utc as answer_text,
    end_time_utc as end_text,
    {{ strict_count('duration_s') }} as duration_s,
    {{ strict_count('billable_s') }} as billable_s,
    cast(null as varchar) as disposition_text,
    release_cause as cause_text,
    nullif(route_id, '') as route_id,
    coalesce(
        {{ number_fault(['duration_s', 'billable_s', 'partial_seq', 'release_cause']) }},
        case when is_last_partial not in ('0', '1') then 'is_last_partial=' || is_last_partial end
    ) as number_fault
from {{ source('raw', 'carrier__cdr') }}
