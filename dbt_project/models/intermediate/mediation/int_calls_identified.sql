-- Every call with its fate: mediated (an owner was found), a near-duplicate of a call delivered earlier,
-- or held in suspense (`orphan_partial`, `unknown_account`), plus its owner, direction, destination
-- country and call type. Rebuilt from all delivered records on every run, so suspense is re-evaluated
-- every time: a call whose trunk assignment arrives late leaves suspense in the first run that sees it.
--
-- Near-duplicates: the same call written twice under two record ids. Same switch, parties, duration and
-- billable seconds, starts at most `near_duplicate_tolerance_s` apart; the first delivered is kept.
-- Owner: the trunk's assignment, else the Asterisk accountcode's, else the DID's (the called number on
-- calls in, the calling number on calls out), each effective at the call's start.
{{ config(materialized='table') }}

with calls as (
    select * from {{ ref('int_calls_assembled') }}
),

candidates as (
    select * from calls where assembly <> 'waiting' and a_number is not null
),

repeated_keys as (
    select switch_id, a_number, b_number, duration_s, billable_s
    from candidates
    group by switch_id, a_number, b_number, duration_s, billable_s
    having count(*) > 1
),

repeated as (
    select candidates.*,
        lag(start_at) over (
            partition by switch_id, a_number, b_number, duration_s, billable_s
            order by start_at, delivery_order, line_no
        ) as previous_start_at
    from candidates
    inner join repeated_keys using (switch_id, a_number, b_number, duration_s, billable_s)
),

clustered as (
    select *,
        sum(case
            when previous_start_at is null
                or start_at > previous_start_at + {{ seconds(var('near_duplicate_tolerance_s')) }} then 1
            else 0
        end) over (
            partition by switch_id, a_number, b_number, duration_s, billable_s
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
                partition by switch_id, a_number, b_number, duration_s, billable_s, cluster_no
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
    greatest(delivery_date, account_known_on) as mediated_on,
    duplicate_of,
    case
        when assembly = 'waiting' then 'suspended'
        when duplicate_of is not null then 'duplicate'
        when account_matched_by is null then 'suspended'
        else 'mediated'
    end as status,
    case
        when assembly = 'waiting' then 'orphan_partial'
        when duplicate_of is not null then 'near_duplicate'
        when account_matched_by is null then 'unknown_account'
    end as reason
from classified
