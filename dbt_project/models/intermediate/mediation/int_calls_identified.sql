-- Every call with its fate: mediated (an owner was found), a near-duplicate of a call delivered earlier,
-- or held in suspense (`orphan_partial`, `start_out_of_window`, `unknown_account`), plus its owner, direction, destination
-- country and call type.
--
-- Partitioned by delivery day. A run mediates the calls of its days' records, and re-evaluates every call
-- held in suspense, whatever day it came: a call whose trunk assignment or last partial record arrives
-- late leaves suspense in the first run that sees it. Without a day range, every call is mediated afresh.
--
-- Assembly: a complete record is a call as it is; the carrier's partial records of one call_ref are put
-- together (first part's start and answer, last part's end and cause, billable seconds summed). A partial
-- call is complete when parts 1..n are all there and part n says it is the last. An incomplete one waits
-- (`orphan_partial`) until it completes or goes stale: no part for `partial_stale_after_days` days of
-- deliveries, after which it is mediated from the parts that came. An assembled call is never billed for
-- more seconds than it lasted: billable seconds over the span of its parts (parts that overlap) reject
-- it as `billsec_gt_duration` (status `rejected`, its records listed with the rejects).
--
-- Near-duplicates: the same call written twice under two record ids. Same switch, parties, duration and
-- billable seconds, starts at most `near_duplicate_tolerance_s` apart; the first delivered is kept. A
-- run compares its calls with the calls of other days that share those keys. A withheld caller is a
-- party too: calls without a calling number are compared on '' (an equality join, not `or ... is null`).
-- Owner: the trunk's assignment, else the Asterisk accountcode's, else the DID's (the called number on
-- calls in, the calling number on calls out), each effective at the call's start.
{{ config(materialized=by_delivery_day(), incremental_strategy='delete+insert', unique_key='call_id') }}

with run_call_ids as (
    -- the calls this run decides: those of its days' records, and those held in suspense
    select call_id from {{ ref('int_cdr_records_deduplicated') }}
    where reject_reason is null and duplicate_of is null and {{ in_delivery_range('delivery_date') }}
    {% if is_incremental() %}
    union
    select call_id from {{ this }} where status = 'suspended'
    {% endif %}
),

stored_records as (
    -- every kept record of those calls, whichever day delivered it (the parts of a partial call)
    select * from {{ ref('int_cdr_records_deduplicated') }}
    where reject_reason is null and duplicate_of is null
    {% if delivery_range_given() %}
        and call_id in (select call_id from run_call_ids)
    {% endif %}
),

{% if is_incremental() %}
held_calls as (
    select call_id from {{ this }} where status = 'suspended'
),
{% endif %}

records_as_stored as (
    select *, cast(null as date) as clock_known_on from stored_records
    where clock_offset_s is null
    {% if is_incremental() %}
        and call_id not in (select call_id from held_calls)
    {% endif %}
),

records_reclocked as (
    -- A held call's records keep the clock correction of the day they were mediated: take the NOC's
    -- corrections as they are now (recorded time = stored time + the offset taken off then), so one
    -- delivered later moves the call. Only corrected records and held calls' (a join over every record
    -- would cost seconds per 10 million); for the others nothing changed since this run's normalising.
    select
        stored.* replace (
            stored.start_at + {{ seconds('coalesce(stored.clock_offset_s, 0) - coalesce(fault.offset_seconds, 0)') }}
                as start_at,
            stored.answer_at + {{ seconds('coalesce(stored.clock_offset_s, 0) - coalesce(fault.offset_seconds, 0)') }}
                as answer_at,
            stored.end_at + {{ seconds('coalesce(stored.clock_offset_s, 0) - coalesce(fault.offset_seconds, 0)') }}
                as end_at,
            fault.offset_seconds as clock_offset_s
        ),
        fault.delivery_date as clock_known_on
    from stored_records as stored
    -- equality on the switch plus a range, as in int_cdr_records_normalised: the recorded start less the
    -- offset falls in the fault's window
    left join {{ ref('stg_network__clock_corrections') }} as fault
        on fault.switch_id = stored.switch_id
        and stored.start_at + {{ seconds('coalesce(stored.clock_offset_s, 0) - fault.offset_seconds') }}
            >= fault.valid_from
        and stored.start_at + {{ seconds('coalesce(stored.clock_offset_s, 0) - fault.offset_seconds') }}
            < fault.valid_to
    where stored.clock_offset_s is not null
    {% if is_incremental() %}
        or stored.call_id in (select call_id from held_calls)
    {% endif %}
),

records as (
    -- whether the record starts in the plausible window around its file's day (a clock years off, a file
    -- held back for months); checked on every run, so widening the vars releases held calls
    select
        reclocked.*,
        reclocked.start_at < cast(reclocked.delivery_date as timestamp)
                - {{ seconds(var('call_window_days_before') * 86400) }}
            or reclocked.start_at >= cast(reclocked.delivery_date as timestamp)
                + {{ seconds((var('call_window_days_after') + 1) * 86400) }}
            as out_of_window
    from (
        select * from records_as_stored
        union all
        select * from records_reclocked
    ) as reclocked
),

latest_delivery as (
    select max(delivery_date) as delivery_date from {{ ref('int_cdr_files_attributed') }}
),

complete_records as (
    select
        call_id, source, switch_id, record_key, file_id, line_no, delivery_date, delivery_order,
        trunk_id, accountcode, context_direction, a_dialled, b_dialled, a_number, b_number, home_country,
        start_at, answer_at, end_at, duration_s, billable_s, clock_offset_s, clock_known_on, out_of_window,
        disposition, q850_cause, route_id,
        1 as record_count,
        'complete' as assembly,
        cast(null as varchar) as call_reject
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
        max(clock_known_on) as clock_known_on,
        bool_or(out_of_window) as out_of_window,
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
        end as assembly,
        case
            when sum(billable_s) > {{ epoch_seconds('max(end_at)') }} - {{ epoch_seconds('min(start_at)') }}
                then 'billsec_gt_duration'
        end as call_reject
    from parts
    group by call_id
),

calls as (
    select * from complete_records
    union all
    select * from partial_calls
),

candidates as (
    select call_id, switch_id, coalesce(a_number, '') as a_key, b_number, duration_s, billable_s, start_at,
        delivery_order, line_no
    from calls where assembly <> 'waiting' and not out_of_window and call_reject is null
    {% if is_incremental() %}
    union all
    -- calls of other days with the same parties and lengths: this run's calls may copy them, or be copied
    select
        other.call_id, other.switch_id, coalesce(other.a_number, ''), other.b_number, other.duration_seconds,
        other.billable_seconds, other.start_at, other.delivery_order, other.line_no
    from {{ this }} as other
    inner join (
        select distinct switch_id, coalesce(a_number, '') as a_key, b_number, duration_s, billable_s from calls
    ) as run_keys
        on run_keys.switch_id = other.switch_id and run_keys.a_key = coalesce(other.a_number, '')
        and run_keys.b_number = other.b_number and run_keys.duration_s = other.duration_seconds
        and run_keys.billable_s = other.billable_seconds
    where other.assembly <> 'waiting' and other.status <> 'rejected'
        and other.call_id not in (select call_id from run_call_ids)
    {% endif %}
),

repeated_keys as (
    select switch_id, a_key, b_number, duration_s, billable_s
    from candidates
    group by switch_id, a_key, b_number, duration_s, billable_s
    having count(*) > 1
),

repeated as (
    select candidates.*,
        lag(start_at) over (
            partition by switch_id, a_key, b_number, duration_s, billable_s
            order by start_at, delivery_order, line_no
        ) as previous_start_at
    from candidates
    inner join repeated_keys using (switch_id, a_key, b_number, duration_s, billable_s)
),

clustered as (
    select *,
        sum(case
            when previous_start_at is null
                or start_at > previous_start_at + {{ seconds(var('near_duplicate_tolerance_s')) }} then 1
            else 0
        end) over (
            partition by switch_id, a_key, b_number, duration_s, billable_s
            order by start_at, delivery_order, line_no
            rows between unbounded preceding and current row
        ) as cluster_no
    from repeated
),

near_duplicates as (
    select call_id, kept_call_id
    from (
        select call_id,
            first_value(call_id) over (
                partition by switch_id, a_key, b_number, duration_s, billable_s, cluster_no
                order by delivery_order, line_no
            ) as kept_call_id
        from clustered
    ) as firsts
    where call_id <> kept_call_id
),

assignments as (
    select * from {{ ref('stg_crm__service_assignments') }}
),

owned as (
    select
        calls.*,
        near_duplicates.kept_call_id as duplicate_of,
        coalesce(calls.context_direction, case when did_called.account_id is not null then 'inbound' end, 'outbound')
            as direction,
        trunk.account_id as trunk_account_id,
        trunk.delivery_date as trunk_known_on,
        code.account_id as code_account_id,
        code.delivery_date as code_known_on,
        did_called.account_id as called_did_account_id,
        did_called.delivery_date as called_did_known_on,
        did_calling.account_id as calling_did_account_id,
        did_calling.delivery_date as calling_did_known_on
    from calls
    left join near_duplicates using (call_id)
    left join assignments as trunk
        on trunk.identifier_type = 'trunk' and trunk.switch_id = calls.switch_id
        and trunk.identifier = calls.trunk_id and {{ effective_at('trunk', 'calls.start_at') }}
    left join assignments as code
        on code.identifier_type = 'accountcode' and code.switch_id = calls.switch_id
        and code.identifier = calls.accountcode and {{ effective_at('code', 'calls.start_at') }}
    left join assignments as did_called
        on did_called.identifier_type = 'did' and did_called.switch_id = calls.switch_id
        and did_called.identifier = calls.b_number and {{ effective_at('did_called', 'calls.start_at') }}
    left join assignments as did_calling
        on did_calling.identifier_type = 'did' and did_calling.switch_id = calls.switch_id
        and did_calling.identifier = calls.a_number and {{ effective_at('did_calling', 'calls.start_at') }}
),

attributed as (
    select
        owned.*,
        case
            when trunk_account_id is not null then 'trunk'
            when code_account_id is not null then 'accountcode'
            when direction = 'inbound' and called_did_account_id is not null then 'did'
            when direction = 'outbound' and calling_did_account_id is not null then 'did'
        end as account_matched_by
    from owned
),

countries as (
    select calling_code, nullif(country_code, '') as country_code from {{ ref('country_calling_codes') }}
),

number_types as (
    select prefix, number_type from {{ ref('number_types') }}
),

classified as (
    select
        attributed.*,
        case account_matched_by
            when 'trunk' then trunk_account_id
            when 'accountcode' then code_account_id
            when 'did' then case when direction = 'inbound' then called_did_account_id else calling_did_account_id end
        end as account_id,
        case account_matched_by
            when 'trunk' then trunk_known_on
            when 'accountcode' then code_known_on
            when 'did' then case when direction = 'inbound' then called_did_known_on else calling_did_known_on end
        end as account_known_on,
        -- country calling codes are 1 to 4 digits (NANP countries other than the US by area code)
        case
            when cc4.calling_code is not null then cc4.country_code
            when cc3.calling_code is not null then cc3.country_code
            when cc2.calling_code is not null then cc2.country_code
            else cc1.country_code
        end as destination_country,
        coalesce(nt5.number_type, nt4.number_type, 'geographic') as number_type
    from attributed
    left join countries as cc4 on cc4.calling_code = left(b_number, 4)
    left join countries as cc3 on cc3.calling_code = left(b_number, 3)
    left join countries as cc2 on cc2.calling_code = left(b_number, 2)
    left join countries as cc1 on cc1.calling_code = left(b_number, 1)
    left join number_types as nt5 on nt5.prefix = left(b_number, 5)
    left join number_types as nt4 on nt4.prefix = left(b_number, 4)
)

select
    call_id,
    source,
    switch_id,
    account_id,
    trunk_id,
    a_number,
    b_number,
    start_at,
    answer_at,
    end_at,
    billable_s as billable_seconds,
    duration_s as duration_seconds,
    disposition,
    q850_cause,
    case
        when direction = 'inbound' then case when number_type = 'toll_free' then 'inbound_toll_free' else 'inbound_geographic' end
        when destination_country is distinct from home_country then 'international'
        when number_type = 'mobile' then 'domestic_mobile'
        when number_type in ('toll_free', 'premium') then number_type
        else 'domestic_fixed'
    end as call_type,
    direction,
    destination_country,
    route_id,
    account_matched_by,
    account_known_on,
    record_key,
    record_count,
    assembly,
    clock_offset_s is not null as is_clock_corrected,
    file_id,
    line_no,
    delivery_date,
    delivery_order,
    -- the day its owner, or the clock correction that gave it its time, was known, if after its file
    greatest(delivery_date, account_known_on, clock_known_on) as mediated_on,
    duplicate_of,
    case
        when assembly = 'waiting' then 'suspended'
        when out_of_window then 'suspended'
        when call_reject is not null then 'rejected'
        when duplicate_of is not null then 'duplicate'
        when account_matched_by is null then 'suspended'
        else 'mediated'
    end as status,
    case
        when assembly = 'waiting' then 'orphan_partial'
        when out_of_window then 'start_out_of_window'
        when call_reject is not null then call_reject
        when duplicate_of is not null then 'near_duplicate'
        when account_matched_by is null then 'unknown_account'
    end as reason
from classified
