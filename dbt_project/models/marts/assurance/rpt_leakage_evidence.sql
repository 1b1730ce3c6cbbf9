-- The calls that prove each finding (its evidence_call_ids), with what mediation and rating made of them:
-- the drill-down of the leakage page, one row per finding and call. A record still in suspense (the
-- evidence of a suspense-ageing finding) shows what suspense holds of it; an id found nowhere keeps its row
-- with empty columns.
with evidence as (
    select finding_id, {{ list_elements('evidence_call_ids') }} as call_id
    from {{ ref('fct_leakage_findings') }}
)

select
    evidence.finding_id,
    evidence.call_id,
    case when calls.call_id is not null then 'mediated' when held.call_id is not null then 'in suspense' end
        as call_state,
    calls.account_id,
    coalesce(calls.switch_id, held.switch_id) as switch_id,
    coalesce(calls.start_at, held.start_at) as start_at,
    calls.answer_at,
    coalesce(calls.a_number, held.a_number) as a_number,
    coalesce(calls.b_number, held.b_number) as b_number,
    calls.destination_country,
    coalesce(calls.call_type, held.call_type) as call_type,
    coalesce(calls.disposition, held.disposition) as disposition,
    coalesce(calls.billable_seconds, held.billable_seconds) as billable_seconds,
    rated.rate_plan_id,
    rated.matched_prefix,
    rated.billed_seconds,
    rated.cost as rated_charge,
    rated.currency,
    rated.vendor_id,
    rated.vendor_cost_in_currency as vendor_cost,
    rated.margin,
    coalesce(calls.file_id, held.file_id) as file_id,
    coalesce(calls.line_no, held.line_no) as line_no
from evidence
left join {{ ref('fct_calls') }} as calls on calls.call_id = evidence.call_id
left join {{ ref('fct_suspense') }} as held on held.call_id = evidence.call_id
left join {{ ref('fct_rated_calls') }} as rated on rated.call_id = evidence.call_id
