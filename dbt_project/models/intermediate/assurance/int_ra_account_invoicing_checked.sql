-- RA-19: Account not invoiced: an account with calls or charges expected in a period and no invoice at all
-- from the billing system (no header, no line). One finding per account and period, valued at its expected
-- usage plus charges, with its calls as evidence; its calls and subscriptions are then not findings of
-- RA-03 or RA-07 (their outcome is account_not_invoiced in int_ra_usage_reconciled and
-- int_ra_charges_reconciled).
with missed as (
    select account_id, billing_period, currency, call_id, answer_at, expected_amount, null as subscription_id
    from {{ ref('int_ra_usage_reconciled') }}
    where outcome = 'account_not_invoiced'
    union all
    select account_id, billing_period, currency, null, null, expected_amount, subscription_id
    from {{ ref('int_ra_charges_reconciled') }}
    where outcome = 'account_not_invoiced'
),

per_account as (
    select
        account_id,
        billing_period,
        any_value(currency) as currency,
        coalesce(sum(expected_amount), 0) as expected_amount,
        coalesce(sum(expected_amount) filter (where call_id is not null), 0) as expected_usage,
        count(call_id) as calls,
        count(subscription_id) as subscriptions,
        {{ ra_evidence('call_id', 'answer_at, call_id') }} as evidence
    from missed
    group by account_id, billing_period
)

select
    {{ ra_finding('RA-19', "'account_not_invoiced'", 'account_id', 'billing_period', 'currency', 'account_id',
                  'expected_amount', '0', 'expected_amount', "'under_billing'", 'evidence', 'calls',
                  "'no invoice for the period: ' || calls || ' calls (' || expected_usage || ') and '
                       || subscriptions || ' subscription charges expected'") }}
from per_account
where expected_amount > {{ var('ra_materiality') }}
