-- The calls that prove each finding (its evidence_call_ids), with what mediation and rating made of them:
-- the drill-down of the leakage page, one row per finding and call. An evidence id that is not a
-- mediated call (a record still in suspense, say) keeps its row with empty call columns.
with evidence as (
    select finding_id, {{ list_elements('evidence_call_ids') }} as call_id
    from {{ ref('fct_leakage_findings') }}
)

select
    evidence.finding_id,
    evidence.call_id,
    calls.account_id,
    calls.switch_id,
    calls.start_at,
    calls.answer_at,
    calls.a_number,
    calls.b_number,
    calls.destination_country,
    calls.call_type,
    calls.disposition,
    calls.billable_seconds,
    rated.rate_plan_id,
    rated.matched_prefix,
    rated.billed_seconds,
    rated.cost as rated_charge,
    rated.currency,
    rated.vendor_id,
    rated.vendor_cost_in_currency as vendor_cost,
    rated.margin,
    calls.file_id,
    calls.line_no
from evidence
left join {{ ref('fct_calls') }} as calls on calls.call_id = evidence.call_id
left join {{ ref('fct_rated_calls') }} as rated on rated.call_id = evidence.call_id
