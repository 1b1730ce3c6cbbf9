-- FreeSWITCH mod_cdr_csv records (`default` 13 and `example` 15 columns) in tollhouse's CDR vocabulary.
-- The operator's FreeSWITCH writes the customer trunk as accountcode.
select
    file_id,
    line_no,
    'freeswitch' as source,
    uuid as record_key,
    'complete' as record_type,
    cast(null as varchar) as call_ref,
    cast(null as integer) as partial_seq,
    cast(null as boolean) as is_last_partial,
    context,
    nullif(accountcode, '') as trunk_id,
    nullif(accountcode, '') as accountcode,
    caller_id_number as a_dialled,
    destination_number as b_dialled,
    'local' as time_basis,
    start_stamp as start_text,
    answer_stamp as answer_text,
    end_stamp as end_text,
    {{ strict_count('duration') }} as duration_s,
    {{ strict_count('billsec') }} as billable_s,
    cast(null as varchar) as disposition_text,
    hangup_cause as cause_text,
    cast(null as varchar) as route_id,
    {{ number_fault(['duration', 'billsec']) }} as number_fault
from {{ source('raw', 'freeswitch__cdr') }}
