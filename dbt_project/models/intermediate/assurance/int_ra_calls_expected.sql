-- The calls revenue assurance expects billed: every call tollhouse rated with billable seconds, in its
-- account's period, for the periods under assurance; with its customer cost and plan (what the CDR-to-bill
-- match compares) and its local day (what the subscription check needs). Read by both, computed once.
{{ config(materialized='table') }}
select
    rated.call_id,
    rated.source,
    rated.record_key,
    rated.account_id,
    bp.billing_period,
    rated.rate_plan_id,
    rated.currency,
    rated.cost as expected_amount,
    rated.billable_seconds,
    rated.answer_at,
    bp.currency as account_currency,
    cast({{ utc_to_local('bp.timezone', 'rated.answer_at') }} as date) as local_day
from {{ ref('int_calls_rated_for_billing') }} as rated
inner join {{ ref('int_billing_periods_bounded') }} as bp
    on bp.account_id = rated.account_id
    and rated.answer_at >= bp.period_start_at and rated.answer_at < bp.period_end_at
inner join {{ ref('int_ra_periods_selected') }} as periods on periods.billing_period = bp.billing_period
where rated.billable_seconds > 0
