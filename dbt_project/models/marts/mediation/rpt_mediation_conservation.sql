-- Conservation per switch file (docs/mediation.md): every record of a loaded file is the (first) record
-- of a call, a partial merged into a call, a duplicate, a reject or held in suspense. Records are counted
-- from the raw tables' staging, outcomes from the marts, so `records_unaccounted` = 0 proves nothing was
-- lost or counted twice; its test fails the build otherwise.
with records as (
    select file_id, count(*) as records_in
    from {{ ref('int_cdr_records_deduplicated') }}
    group by file_id
),

call_records as (
    -- each valid, first-delivered record with the fate of its call
    select
        r.file_id,
        count(*) filter (where c.status = 'mediated' and c.record_key = r.record_key) as calls_out,
        count(*) filter (where c.status = 'mediated' and c.record_key <> r.record_key) as partials_merged,
        count(*) filter (where c.status = 'suspended') as suspended
    from {{ ref('int_cdr_records_deduplicated') }} as r
    inner join {{ ref('int_calls_identified') }} as c using (call_id)
    where r.reject_reason is null and r.duplicate_of is null
    group by r.file_id
),

rejects as (
    select
        file_id,
        count(*) filter (where stage = 'validation') as rejected,
        count(*) filter (where stage = 'deduplication') as duplicates
    from {{ ref('fct_mediation_rejects') }}
    group by file_id
),

calls as (
    select file_id, count(*) as calls from {{ ref('fct_calls') }} group by file_id
)

select
    files.file_id,
    files.source,
    files.switch_id,
    files.delivery_date,
    files.path,
    coalesce(records.records_in, 0) as records_in,
    coalesce(calls.calls, 0) as calls_out,
    coalesce(call_records.partials_merged, 0) as partials_merged,
    coalesce(rejects.duplicates, 0) as duplicates,
    coalesce(rejects.rejected, 0) as rejected,
    coalesce(call_records.suspended, 0) as suspended,
    coalesce(records.records_in, 0) - coalesce(calls.calls, 0) - coalesce(call_records.partials_merged, 0)
        - coalesce(rejects.duplicates, 0) - coalesce(rejects.rejected, 0) - coalesce(call_records.suspended, 0)
        as records_unaccounted,
    -- the calls the marts say start in this file must be the records mediation says they are
    coalesce(calls.calls, 0) - coalesce(call_records.calls_out, 0) as calls_unmatched
from {{ ref('int_cdr_files_attributed') }} as files
left join records using (file_id)
left join call_records using (file_id)
left join rejects using (file_id)
left join calls using (file_id)
