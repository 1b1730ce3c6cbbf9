-- Every switch record with what mediation made of it so far: rejected (reject_reason), a duplicate of a
-- record delivered earlier (same record identity; a second CDR backend and a re-sent file both repeat
-- it), or a record of the call `call_id`. The first delivered copy is kept; its copies point at its call.
--
-- A record's identity is per switch (the switch that wrote the file; a second backend's files are its
-- switch's): Asterisk uniqueids and FreeSWITCH uuids are only unique on one server. A carrier partial's
-- identity is its place in the call (call_ref, partial_seq), whatever its record_id: a part re-sent under
-- a new record_id is still a copy. A copy whose content differs from the kept record (a conflicting
-- re-send) is a `conflicting_duplicate`: the first delivered still wins, so a call billed from it never
-- changes afterwards; the conflict is listed with the rejects.
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
        case when record_type = 'partial' then call_ref || '#' || cast(partial_seq as varchar) else record_key end
            as record_identity,
        delivery_order * 100000000 + line_no as arrival_rank
    from {{ ref('int_cdr_records_normalised') }}
    where {{ in_delivery_range('delivery_date') }}
),

identities as (
    select switch_id, record_type, record_identity, arrival_rank, call_id
    from records where reject_reason is null
    {% if is_incremental() %}
    union all
    -- copies of this run's identities delivered on other days
    select
        other.switch_id, other.record_type, other.record_identity,
        other.delivery_order * 100000000 + other.line_no, other.call_id
    from {{ this }} as other
    inner join (
        select distinct switch_id, record_type, record_identity from records where reject_reason is null
    ) as run_keys
        on run_keys.switch_id = other.switch_id and run_keys.record_type = other.record_type
        and run_keys.record_identity = other.record_identity
    where other.reject_reason is null and not {{ in_delivery_range('other.delivery_date') }}
    {% endif %}
),

repeated as (
    select
        switch_id,
        record_type,
        record_identity,
        min(arrival_rank) as first_arrival_rank,
        arg_min(call_id, arrival_rank) as first_call_id
    from identities
    group by switch_id, record_type, record_identity
    having count(*) > 1
),

kept_content as (
    -- what the kept copy says, hashed only for the few identities delivered more than once
    select kept.switch_id, kept.record_type, kept.record_identity, {{ record_content('kept') }} as content_hash
    from records as kept
    inner join repeated
        on repeated.switch_id = kept.switch_id and repeated.record_type = kept.record_type
        and repeated.record_identity = kept.record_identity and repeated.first_arrival_rank = kept.arrival_rank
    where kept.reject_reason is null
    {% if is_incremental() %}
    union all
    select kept.switch_id, kept.record_type, kept.record_identity, {{ record_content('kept') }}
    from {{ this }} as kept
    inner join repeated
        on repeated.switch_id = kept.switch_id and repeated.record_type = kept.record_type
        and repeated.record_identity = kept.record_identity
        and repeated.first_arrival_rank = kept.delivery_order * 100000000 + kept.line_no
    where kept.reject_reason is null and not {{ in_delivery_range('kept.delivery_date') }}
    {% endif %}
)

select
    records.* exclude (arrival_rank),
    case
        when records.reject_reason is null and records.arrival_rank > repeated.first_arrival_rank
            then repeated.first_call_id
    end as duplicate_of,
    case
        when records.reject_reason is not null or repeated.first_arrival_rank is null
            or records.arrival_rank <= repeated.first_arrival_rank then null
        when {{ record_content('records') }} = kept_content.content_hash then 'duplicate_record'
        else 'conflicting_duplicate'
    end as duplicate_reason
from records
left join repeated
    on repeated.switch_id = records.switch_id and repeated.record_type = records.record_type
    and repeated.record_identity = records.record_identity
left join kept_content
    on kept_content.switch_id = records.switch_id and kept_content.record_type = records.record_type
    and kept_content.record_identity = records.record_identity
