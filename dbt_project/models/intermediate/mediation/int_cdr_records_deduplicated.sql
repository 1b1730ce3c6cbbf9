-- Every switch record with what mediation made of it so far: rejected (reject_reason), an exact duplicate
-- of a record delivered earlier (same record identity: Asterisk uniqueid, FreeSWITCH uuid, carrier
-- record_id; a second CDR backend and a re-sent file both repeat it), or a record of the call `call_id`.
-- The first delivered copy is kept; its copies point at its call.
--
-- Partitioned by delivery day: a run replaces the records of its days and looks their identities up among
-- the records of every other day already here, so a copy delivered days after the original is still a
-- duplicate. Days must be mediated in delivery order (a range in one run is): a day mediated before an
-- earlier one keeps a copy the earlier day's original should have claimed, which the test on kept
-- identities reports.
-- Repeated identities are found by aggregation, not a window over every record: nearly all records are
-- unique, and a window would sort all of them.
{{ config(materialized=by_delivery_day(), incremental_strategy='delete+insert', unique_key='delivery_date') }}

with records as (
    select
        *,
        switch_id || ':' || case when record_type = 'partial' then call_ref else record_key end as call_id,
        delivery_order * 100000000 + line_no as arrival_rank
    from {{ ref('int_cdr_records_normalised') }}
    where {{ in_delivery_range('delivery_date') }}
),

identities as (
    select source, record_key, arrival_rank, call_id from records where reject_reason is null
    {% if is_incremental() %}
    union all
    -- copies of this run's identities delivered on other days
    select other.source, other.record_key, other.delivery_order * 100000000 + other.line_no, other.call_id
    from {{ this }} as other
    inner join (select distinct source, record_key from records where reject_reason is null) as run_keys
        on run_keys.source = other.source and run_keys.record_key = other.record_key
    where other.reject_reason is null and not {{ in_delivery_range('other.delivery_date') }}
    {% endif %}
),

repeated as (
    select
        source,
        record_key,
        min(arrival_rank) as first_arrival_rank,
        arg_min(call_id, arrival_rank) as first_call_id
    from identities
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
