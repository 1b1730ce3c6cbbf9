-- Asterisk cdr_csv records (16 to 21 columns) in tollhouse's CDR vocabulary. Times stay local text:
-- mediation turns them into UTC with the switch's zone. Every staging CDR model has these columns.
select
    file_id,
    line_no,
    'asterisk' as source,
    -- uniqueid from 17 columns on; the 16-column variant has none, so its record is its content
    coalesce(
        nullif(uniqueid, ''),
        md5(concat_ws('|', src, dst, channel, dstchannel, "start", "end", duration, billsec))
    ) as record_key,
    'complete' as record_type,
    cast(null as varchar) as call_ref,
    cast(null as integer) as partial_seq,
    cast(null as boolean) as is_last_partial,
    dcontext as context,
    -- the trunk is the peer of the customer's channel: SIP/lon-tr-0009-4c51cf35 -> lon-tr-0009
    -- (the caller's channel on calls out, the called channel on calls in)
    regexp_extract(
        case when {{ is_inbound_context('dcontext') }} then dstchannel else channel end,
        '^[^/]+/(.+)-[0-9a-fA-F]+$', 1
    ) as trunk_id,
    nullif(accountcode, '') as accountcode,
    src as a_dialled,
    dst as b_dialled,
    'local' as time_basis,
    "start" as start_text,
    answer as answer_text,
    "end" as end_text,
    {{ strict_count('duration') }} as duration_s,
    {{ strict_count('billsec') }} as billable_s,
    disposition as disposition_text,
    cast(null as varchar) as cause_text,
    -- the route is the peer of the other channel: the vendor's on calls out, the carrier's on calls in
    regexp_extract(
        case when {{ is_inbound_context('dcontext') }} then channel else dstchannel end,
        '^[^/]+/(.+)-[0-9a-fA-F]+$', 1
    ) as route_id,
    -- a count field that holds something else (mediation rejects the record: invalid_number_field)
    {{ number_fault(['duration', 'billsec']) }} as number_fault
from {{ source('raw', 'asterisk__cdr') }}
