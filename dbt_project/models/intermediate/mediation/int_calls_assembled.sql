-- One row per call: a complete record as it is, or the carrier's partial records of one call_ref put
-- together (first part's start and answer, last part's end and cause, billable seconds summed).
-- A partial call is complete when parts 1..n are all there and part n says it is the last. An incomplete
-- one waits (`orphan_partial`) until it completes or goes stale: no part for `partial_stale_after_days`
-- days of deliveries, after which it is mediated from the parts that came.
with records as (
    select * from {{ ref('int_cdr_records_deduplicated') }}
    where reject_reason is null and duplicate_of is null
),

latest_delivery as (
    select max(delivery_date) as delivery_date from {{ ref('int_cdr_files_attributed') }}
),

complete_records as (
    select
        call_id, source, switch_id, record_key, file_id, line_no, delivery_date, delivery_order,
        trunk_id, accountcode, context_direction, a_dialled, b_dialled, a_number, b_number, home_country,
        start_at, answer_at, end_at, duration_s, billable_s, clock_offset_s, disposition, q850_cause, route_id,
        1 as record_count,
        'complete' as assembly
    from records
    where record_type = 'complete'
),

parts as (
    select
        *,
        count(*) over (partition by call_id) as parts_present,
        max(partial_seq) over (partition by call_id) as max_seq,
        min(partial_seq) over (partition by call_id) as min_seq,
        count(distinct partial_seq) over (partition by call_id) as distinct_seqs,
        bool_or(is_last_partial) over (partition by call_id) as has_last,
        max(delivery_date) over (partition by call_id) as last_part_delivered
    from records
    where record_type = 'partial'
),

partial_calls as (
    select
        call_id,
        any_value(source) as source,
        any_value(switch_id) as switch_id,
        arg_min(record_key, partial_seq) as record_key,
        arg_min(file_id, partial_seq) as file_id,
        arg_min(line_no, partial_seq) as line_no,
        arg_min(delivery_date, partial_seq) as delivery_date,
        arg_min(delivery_order, partial_seq) as delivery_order,
        arg_min(trunk_id, partial_seq) as trunk_id,
        arg_min(accountcode, partial_seq) as accountcode,
        arg_min(context_direction, partial_seq) as context_direction,
        arg_min(a_dialled, partial_seq) as a_dialled,
        arg_min(b_dialled, partial_seq) as b_dialled,
        arg_min(a_number, partial_seq) as a_number,
        arg_min(b_number, partial_seq) as b_number,
        arg_min(home_country, partial_seq) as home_country,
        min(start_at) as start_at,
        arg_min(answer_at, partial_seq) as answer_at,
        max(end_at) as end_at,
        cast({{ epoch_seconds('max(end_at)') }} - {{ epoch_seconds('min(start_at)') }} as integer) as duration_s,
        cast(sum(billable_s) as integer) as billable_s,
        max(clock_offset_s) as clock_offset_s,
        arg_max(disposition, partial_seq) as disposition,
        arg_max(q850_cause, partial_seq) as q850_cause,
        arg_min(route_id, partial_seq) as route_id,
        cast(count(*) as integer) as record_count,
        case
            when any_value(has_last) and any_value(min_seq) = 1 and any_value(max_seq) = any_value(parts_present)
                and any_value(distinct_seqs) = any_value(parts_present) then 'assembled'
            when any_value(last_part_delivered)
                <= (select delivery_date from latest_delivery) - {{ var('partial_stale_after_days') }}
                then 'stale_incomplete'
            else 'waiting'
        end as assembly
    from parts
    group by call_id
)

select * from complete_records
union all
select * from partial_calls
