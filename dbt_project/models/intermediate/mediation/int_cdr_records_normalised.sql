-- Every switch record, whatever its dialect, in one shape: E.164 numbers, UTC times, one disposition
-- vocabulary, and the first rule it breaks (docs/mediation.md), if any.
--
-- Times: a record's local end time is read in the switch's zone. In the hour clocks go back, the file's
-- UTC hour (files are per hour of the record's end) says which occurrence it was. Start and answer are
-- end minus duration and minus billable seconds, which the switches compute from epochs, so they are
-- right across a DST change too. Then a clock fault the NOC reported is taken off: a record whose start,
-- less the offset, falls inside the fault's window was written by the fast clock.
with records as (
    select * from {{ ref('stg_asterisk__cdrs') }}
    union all
    select * from {{ ref('stg_freeswitch__cdrs') }}
    union all
    select * from {{ ref('stg_carrier__cdrs') }}
),

-- FreeSWITCH writes cause names, the carrier Q.850 codes: one lookup by either
causes as (
    select cause_name as cause_key, q850_cause, disposition from {{ ref('q850_causes') }}
    union all
    select cast(q850_cause as varchar), q850_cause, disposition from {{ ref('q850_causes') }}
),

parsed as (
    select
        records.*,
        files.switch_id,
        files.configurations,
        files.config_date,
        files.delivery_date,
        files.delivery_order,
        files.file_hour,
        files.timezone,
        files.home_country,
        files.country_calling_code,
        files.national_prefix,
        files.international_prefix,
        case when time_basis = 'utc'
            then {{ parse_timestamp('start_text', '%Y-%m-%dT%H:%M:%SZ') }}
            else {{ parse_timestamp('start_text', '%Y-%m-%d %H:%M:%S') }}
        end as start_local,
        case when answer_text = '' then null when time_basis = 'utc'
            then {{ parse_timestamp('answer_text', '%Y-%m-%dT%H:%M:%SZ') }}
            else {{ parse_timestamp('answer_text', '%Y-%m-%d %H:%M:%S') }}
        end as answer_local,
        case when time_basis = 'utc'
            then {{ parse_timestamp('end_text', '%Y-%m-%dT%H:%M:%SZ') }}
            else {{ parse_timestamp('end_text', '%Y-%m-%d %H:%M:%S') }}
        end as end_local,
        {{ e164('a_dialled', 'files.country_calling_code', 'files.national_prefix', 'files.international_prefix') }}
            as a_e164,
        {{ e164('b_dialled', 'files.country_calling_code', 'files.national_prefix', 'files.international_prefix') }}
            as b_e164
    from records
    inner join {{ ref('int_cdr_files_attributed') }} as files using (file_id)
),

in_utc as (
    select
        parsed.*,
        case
            when time_basis = 'utc' or parsed.timezone = 'UTC' then end_local
            when zone.second_offset_s is not null and file_hour is not null
                and end_local - {{ seconds('zone.second_offset_s') }} >= file_hour
                and end_local - {{ seconds('zone.second_offset_s') }} < file_hour + interval 1 hour
                then end_local - {{ seconds('zone.second_offset_s') }}
            when zone.first_offset_s is not null then end_local - {{ seconds('zone.first_offset_s') }}
            -- outside the tabulated days, or a local time that never happened
            else {{ local_to_utc('parsed.timezone', 'end_local') }}
        end as end_recorded_at
    from parsed
    left join {{ ref('int_zone_offsets_tabulated') }} as zone
        on zone.timezone = parsed.timezone and zone.local_at = {{ quarter_hour('parsed.end_local') }}
),

corrected as (
    select
        in_utc.*,
        fault.offset_seconds as clock_offset_s,
        end_recorded_at - {{ seconds('coalesce(fault.offset_seconds, 0)') }} as end_at
    from in_utc
    left join {{ ref('stg_network__clock_corrections') }} as fault
        on fault.switch_id = in_utc.switch_id
        and end_recorded_at - {{ seconds('duration_s + fault.offset_seconds') }} >= fault.valid_from
        and end_recorded_at - {{ seconds('duration_s + fault.offset_seconds') }} < fault.valid_to
),

classified as (
    select
        corrected.*,
        {{ epoch_seconds('end_local') }} - {{ epoch_seconds('start_local') }} as local_span_s,
        case source
            when 'asterisk' then case upper(disposition_text)
                when 'ANSWERED' then 'answered'
                when 'NO ANSWER' then 'no_answer'
                when 'BUSY' then 'busy'
                when 'FAILED' then 'failed'
                when 'CONGESTION' then 'failed'
            end
            else case when answer_local is not null then 'answered' else coalesce(cause.disposition, 'failed') end
        end as disposition,
        case source
            when 'asterisk' then case upper(disposition_text)
                when 'ANSWERED' then 16 when 'BUSY' then 17 when 'NO ANSWER' then 19
            end
            else coalesce(cause.q850_cause, {{ strict_count('cause_text') }})
        end as q850_cause,
        case
            when source = 'carrier' then null
            when {{ is_inbound_context('context') }} then 'inbound'
            else 'outbound'
        end as context_direction
    from corrected
    -- an equality join only: a condition on the left side alone makes DuckDB loop over every pair
    left join causes as cause on cause.cause_key = corrected.cause_text
),

ruled as (
select
    file_id,
    line_no,
    source,
    switch_id,
    delivery_date,
    delivery_order,
    record_key,
    record_type,
    call_ref,
    partial_seq,
    is_last_partial,
    trunk_id,
    accountcode,
    context_direction,
    a_dialled,
    b_dialled,
    case when {{ is_e164('a_e164') }} then a_e164 end as a_number,
    b_e164 as b_number,
    home_country,
    end_at - {{ seconds('duration_s') }} as start_at,
    case when answer_local is not null then end_at - {{ seconds('billable_s') }} end as answer_at,
    end_at,
    duration_s,
    billable_s,
    clock_offset_s,
    disposition,
    q850_cause,
    route_id,
    number_fault,
    configurations,
    config_date,
    case
        when record_key is null or record_key = '' then 'missing_call_id'
        when switch_id is not null and configurations > 1 then 'ambiguous_switch_config'
        when switch_id is null or timezone is null then 'unknown_switch'
        when number_fault is not null then 'invalid_number_field'
        when start_local is null or end_local is null or (answer_text <> '' and answer_local is null)
            then 'bad_timestamp'
        -- a negative local span is a DST change only when it is the duration less the hour repeated
        when local_span_s < 0 and local_span_s <> coalesce(duration_s, 0) - 3600 then 'end_before_start'
        when duration_s is null or billable_s is null or duration_s < 0 or billable_s < 0
            or duration_s > {{ var('max_call_seconds') }} then 'negative_or_absurd_duration'
        when local_span_s not in (duration_s, duration_s - 3600, duration_s + 3600) then 'inconsistent_duration'
        when billable_s > duration_s then 'billsec_gt_duration'
        when not {{ is_e164('b_e164') }} then 'invalid_number'
        when record_type not in ('complete', 'partial')
            or (record_type = 'partial' and (call_ref is null or partial_seq is null or partial_seq < 1))
            then 'invalid_partial'
        when disposition is null then 'unknown_disposition'
        -- a start far from the file's day is not a reject: int_calls_identified holds the call in suspense
        -- (start_out_of_window) until a clock correction or a wider window makes it plausible
    end as reject_reason
from classified
)

select
    * exclude (number_fault, configurations, config_date),
    case reject_reason
        when 'invalid_number_field' then number_fault
        when 'ambiguous_switch_config' then
            switch_id || ' has ' || configurations || ' configurations on ' || cast(config_date as varchar)
            || ' (stg_network__reference_errors)'
    end as reject_detail
from ruled
