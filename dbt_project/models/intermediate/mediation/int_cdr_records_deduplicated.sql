-- Every switch record with what mediation made of it so far: rejected (reject_reason), an exact duplicate
-- of a record delivered earlier (same record identity: Asterisk uniqueid, FreeSWITCH uuid, carrier
-- record_id; a second CDR backend and a re-sent file both repeat it), or a record of the call `call_id`.
-- The first delivered copy is kept; its copies point at it.
{{ config(materialized='table') }}

with records as (
    select
        *,
        switch_id || ':' || case when record_type = 'partial' then call_ref else record_key end as call_id
    from {{ ref('int_cdr_records_normalised') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by source, record_key, reject_reason is null order by delivery_order, line_no
        ) as copy_no,
        first_value(call_id) over (
            partition by source, record_key, reject_reason is null order by delivery_order, line_no
        ) as first_copy_call_id
    from records
)

select
    * exclude (copy_no, first_copy_call_id),
    case when reject_reason is null and copy_no > 1 then first_copy_call_id end as duplicate_of
from ranked
