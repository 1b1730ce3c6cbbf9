-- Every switch record with what mediation made of it so far: rejected (reject_reason), an exact duplicate
-- of a record delivered earlier (same record identity: Asterisk uniqueid, FreeSWITCH uuid, carrier
-- record_id; a second CDR backend and a re-sent file both repeat it), or a record of the call `call_id`.
-- The first delivered copy is kept; its copies point at its call.
-- Repeated identities are found by aggregation, not a window over every record: nearly all records are
-- unique, and a window would sort all of them.
{{ config(materialized='table') }}

with records as (
    select
        *,
        switch_id || ':' || case when record_type = 'partial' then call_ref else record_key end as call_id,
        delivery_order * 100000000 + line_no as arrival_rank
    from {{ ref('int_cdr_records_normalised') }}
),

repeated as (
    select
        source,
        record_key,
        min(arrival_rank) as first_arrival_rank,
        arg_min(call_id, arrival_rank) as first_call_id
    from records
    where reject_reason is null
    group by source, record_key
    having count(*) > 1
)

select
    records.* exclude (arrival_rank),
    case
        when records.reject_reason is null and records.arrival_rank > repeated.first_arrival_rank
            then repeated.first_call_id
    end as duplicate_of
from records
left join repeated
    on repeated.source = records.source and repeated.record_key = records.record_key
