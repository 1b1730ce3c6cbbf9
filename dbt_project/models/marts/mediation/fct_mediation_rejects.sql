-- Every switch line or record that did not become (part of) a call or wait in suspense, one row each,
-- with the reason (docs/mediation.md) and the stage that decided it:
-- - ingestion: lines raw ingestion could not read as their layout (raw.rejects);
-- - validation: records that break a rule (bad_timestamp, end_before_start, invalid_number, ...), and
--   every record of an assembled call that breaks one (billsec_gt_duration);
-- - deduplication: copies of a record delivered earlier (`duplicate_record`, or `conflicting_duplicate`
--   when the copy says something else) and second records of a call written twice (`near_duplicate`),
--   each with the call it duplicates.
with records as (
    select * from {{ ref('int_cdr_records_deduplicated') }}
),

near_duplicate_calls as (
    select call_id, duplicate_of from {{ ref('int_calls_identified') }} where status = 'duplicate'
),

rejected_calls as (
    select call_id, reason, billable_seconds, duration_seconds
    from {{ ref('int_calls_identified') }} where status = 'rejected'
)

select
    rejects.file_id, rejects.line_no, rejects.source, audit.delivery_date,
    'ingestion' as stage, rejects.reason, rejects.detail,
    cast(null as varchar) as record_key, cast(null as varchar) as duplicate_of, rejects.raw_line
from {{ source('raw', 'rejects') }} as rejects
inner join {{ source('raw', 'load_audit') }} as audit using (file_id)
where rejects.source in ('asterisk', 'freeswitch', 'carrier')

union all

select
    file_id, line_no, source, delivery_date,
    'validation', reject_reason,
    coalesce(reject_detail, 'a=' || coalesce(a_dialled, '') || ' b=' || coalesce(b_dialled, '')),
    record_key, null, null
from records
where reject_reason is not null

union all

select
    records.file_id, records.line_no, records.source, records.delivery_date,
    'validation', rejected_calls.reason,
    'call ' || records.call_id || ': billable=' || rejected_calls.billable_seconds
        || ' duration=' || rejected_calls.duration_seconds,
    records.record_key, null, null
from records
inner join rejected_calls using (call_id)
where records.reject_reason is null and records.duplicate_of is null

union all

select
    file_id, line_no, source, delivery_date,
    'deduplication', duplicate_reason, null, record_key, duplicate_of, null
from records
where duplicate_of is not null

union all

select
    records.file_id, records.line_no, records.source, records.delivery_date,
    'deduplication', 'near_duplicate', null, records.record_key, near_duplicate_calls.duplicate_of, null
from records
inner join near_duplicate_calls using (call_id)
where records.reject_reason is null and records.duplicate_of is null
