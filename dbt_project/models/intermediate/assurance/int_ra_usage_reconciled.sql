-- CDR-to-bill match per call (controls RA-03, RA-04, RA-05, RA-09): every call tollhouse rated with billable
-- seconds in a period under assurance (expected: its customer cost, its plan) against the billing system's
-- usage lines for it (billed), matched on the CDR's identity (source, record_key). One outcome per call,
-- the first that applies: unbilled_usage, billed_without_usage, duplicate_billing, wrong_plan,
-- zero_rated_usage, rating_discrepancy (beyond var ra_amount_tolerance), else matched.
{{ config(materialized='table') }}

with periods as (
    select * from {{ ref('int_ra_periods') }}
),

expected as (
    select call_id, source, record_key, account_id, billing_period, rate_plan_id, currency, expected_amount
    from {{ ref('int_ra_expected_calls') }}
),

billed as (
    select
        lines.source,
        lines.record_key,
        any_value(lines.account_id) as account_id,
        min(lines.billing_period) as billing_period,
        any_value(lines.currency) as currency,
        count(*) as billed_lines,
        sum(lines.amount) as billed_amount,
        min(lines.amount) as smallest_line,
        min(lines.rate_plan_id) as billed_plan_id,
        list(lines.invoice_number || '/' || lines.line_number order by lines.invoice_number, lines.line_number)
            as billed_on
    from {{ ref('stg_billing_export__invoice_lines') }} as lines
    inner join periods using (billing_period)
    where lines.line_type = 'usage'
    group by lines.source, lines.record_key
),

known as (
    -- mediated calls a line names that are not expected in its period (another period's, or not priced):
    -- their call id, as evidence; keyed joins only, so the planner hashes them
    select calls.source, calls.record_key, calls.call_id
    from {{ ref('fct_calls') }} as calls
    inner join billed using (source, record_key)
    anti join expected using (source, record_key)
),

joined as (
    select
        coalesce(expected.call_id, known.call_id) as call_id,
        coalesce(expected.source, billed.source) as source,
        coalesce(expected.record_key, billed.record_key) as record_key,
        coalesce(expected.account_id, billed.account_id) as account_id,
        coalesce(expected.billing_period, billed.billing_period) as billing_period,
        coalesce(expected.currency, billed.currency) as currency,
        expected.rate_plan_id,
        billed.billed_plan_id,
        expected.expected_amount,
        billed.billed_amount,
        coalesce(billed.billed_lines, 0) as billed_lines,
        billed.smallest_line,
        billed.billed_on
    from expected
    full outer join billed on billed.source = expected.source and billed.record_key = expected.record_key
    left join known
        on known.source = billed.source and known.record_key = billed.record_key
)

select
    *,
    coalesce(expected_amount, 0) - coalesce(billed_amount, 0) as gap,
    case
        when billed_lines = 0 then 'unbilled_usage'
        when expected_amount is null then 'billed_without_usage'
        when billed_lines > 1 then 'duplicate_billing'
        when billed_plan_id is distinct from rate_plan_id then 'wrong_plan'
        when billed_amount = 0 and expected_amount > 0 then 'zero_rated_usage'
        when abs(billed_amount - expected_amount) > {{ var('ra_amount_tolerance') }} then 'rating_discrepancy'
        else 'matched'
    end as outcome
from joined
