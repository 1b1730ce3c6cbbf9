-- RA-21: Plan change dated wrong: an account's calls on the wrong side of its plan change's day billed at
-- the plan of the other side (the billing system applied the change from another day). One finding per
-- account, change day and period, valued at the sum of the calls' differences, instead of one wrong_plan
-- finding per call (int_ra_usage_reconciled gives those calls the outcome plan_change_misdated).
with calls as (
    select * from {{ ref('int_ra_usage_reconciled') }}
    where outcome = 'plan_change_misdated'
),

per_change as (
    select
        account_id,
        billing_period,
        plan_changed_on,
        any_value(currency) as currency,
        sum(expected_amount) as expected_amount,
        sum(billed_amount) as billed_amount,
        sum(gap) as gap,
        count(*) as calls,
        min(answer_at) as first_at,
        max(answer_at) as last_at,
        min(rate_plan_id) as rate_plan_id,
        min(billed_plan_id) as billed_plan_id,
        {{ ra_evidence('call_id', 'answer_at, call_id') }} as evidence
    from calls
    group by account_id, billing_period, plan_changed_on
)

select
    {{ ra_finding('RA-21', "'plan_change_misdated'", 'account_id', 'billing_period', 'currency',
                  "account_id || '|' || strftime(plan_changed_on, '%Y-%m-%d')",
                  'expected_amount', 'billed_amount', 'abs(gap)', ra_direction('gap'), 'evidence', 'calls',
                  "'plan changed on ' || strftime(plan_changed_on, '%Y-%m-%d') || '; ' || calls
                       || ' calls from ' || strftime(first_at, '%Y-%m-%dT%H:%M') || ' to '
                       || strftime(last_at, '%Y-%m-%dT%H:%M') || ' billed at the other plan of the change'") }}
from per_change

