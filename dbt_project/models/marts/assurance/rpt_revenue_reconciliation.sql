-- Expected, billed and collected revenue per account and period under assurance (docs/assurance.md):
-- expected is tollhouse's rating of the calls plus the order inventory's charges; billed the billing system
-- of record's usage and charge lines (list charges, before allowances, promotions and tax); collected the
-- payments towards its invoice. expected - billed is explained, to the cent and below, by the findings
-- of the billing controls (one column per finding type), the differences within var ra_amount_tolerance,
-- and those under var ra_materiality: `unexplained` is zero, and a test fails the build otherwise.
{%- set types = ['unbilled_usage', 'billed_without_usage', 'duplicate_billing', 'wrong_plan', 'zero_rated_usage',
                 'rating_discrepancy', 'subscription_not_billed', 'charge_without_order', 'charge_discrepancy',
                 'billed_after_cancellation', 'billed_to_wrong_account', 'currency_mismatch', 'quantity_mismatch',
                 'account_not_invoiced', 'billed_before_activation', 'plan_change_misdated'] %}

with usage_sides as (
    -- a call's expected charge counts on its account, what was billed for it on the account billed, and
    -- only in that account's currency (a line in another currency is not revenue in it: RA-18)
    select
        account_id, billing_period, currency, expected_amount, outcome, gap,
        case when outcome in ('billed_to_wrong_account', 'currency_mismatch') then null else billed_amount end
            as billed_amount
    from {{ ref('int_ra_usage_reconciled') }}
    union all
    select billed_account_id, billing_period, billed_currency, null, 'billed_elsewhere', 0, billed_amount
    from {{ ref('int_ra_usage_reconciled') }}
    where outcome = 'billed_to_wrong_account'
),

usage as (
    select
        account_id, billing_period, any_value(currency) as currency,
        count(*) filter (where expected_amount is not null) as expected_calls,
        count(*) filter (where outcome = 'matched') as matched_calls,
        coalesce(sum(expected_amount), 0) as expected_usage,
        coalesce(sum(billed_amount), 0) as billed_usage,
        coalesce(sum(gap) filter (where outcome = 'matched'), 0) as usage_within_tolerance,
        coalesce(sum(gap) filter (where outcome not in ('matched', 'wrong_plan', 'plan_change_misdated',
                                                        'billed_to_wrong_account', 'currency_mismatch',
                                                        'billed_elsewhere', 'account_not_invoiced')
                                  and abs(gap) <= {{ var('ra_materiality') }}), 0) as usage_below_materiality
    from usage_sides
    group by account_id, billing_period
),

charges as (
    select
        account_id, billing_period, any_value(currency) as currency,
        coalesce(sum(expected_amount), 0) as expected_charges,
        coalesce(sum(billed_amount), 0) as billed_charges,
        coalesce(sum(gap) filter (where outcome = 'matched'), 0) as charges_within_tolerance,
        coalesce(sum(gap) filter (where outcome <> 'matched'
                                  and abs(gap) <= {{ var('ra_materiality') }}), 0) as charges_below_materiality
    from {{ ref('int_ra_charges_reconciled') }}
    group by account_id, billing_period
),

findings as (
    select
        account_id,
        billing_period,
        {%- for type in types %}
        coalesce(sum(coalesce(expected_amount, 0) - billed_amount) filter (where finding_type = '{{ type }}'), 0)
            as {{ type }},
        {%- endfor %}
        count(*) as findings
    from {{ ref('fct_leakage_findings') }}
    where finding_type in ('{{ types | join("', '") }}')
    group by account_id, billing_period
),

collection as (
    select account_id, billing_period, total_amount as invoiced_total, collected
    from {{ ref('int_ra_invoices_collected') }}
),

accounts as (
    select account_id, billing_period from usage
    union
    select account_id, billing_period from charges
    union
    select account_id, billing_period from collection
),

joined as (
    select
        accounts.account_id,
        accounts.billing_period,
        coalesce(usage.currency, charges.currency) as currency,
        coalesce(usage.expected_usage, 0) + coalesce(charges.expected_charges, 0) as expected,
        coalesce(usage.billed_usage, 0) + coalesce(charges.billed_charges, 0) as billed,
        collection.invoiced_total,
        collection.collected,
        coalesce(usage.expected_usage, 0) as expected_usage,
        coalesce(usage.billed_usage, 0) as billed_usage,
        coalesce(charges.expected_charges, 0) as expected_charges,
        coalesce(charges.billed_charges, 0) as billed_charges,
        coalesce(usage.expected_calls, 0) as expected_calls,
        coalesce(usage.matched_calls, 0) as matched_calls,
        {%- for type in types %}
        coalesce(findings.{{ type }}, 0) as {{ type }},
        {%- endfor %}
        coalesce(findings.findings, 0) as findings,
        coalesce(usage.usage_within_tolerance, 0) + coalesce(charges.charges_within_tolerance, 0) as within_tolerance,
        coalesce(usage.usage_below_materiality, 0) + coalesce(charges.charges_below_materiality, 0)
            as below_materiality
    from accounts
    left join usage using (account_id, billing_period)
    left join charges using (account_id, billing_period)
    left join findings using (account_id, billing_period)
    left join collection using (account_id, billing_period)
)

select
    *,
    expected - billed as difference,
    {% for type in types %}{{ type }}{% if not loop.last %} + {% endif %}{% endfor %} as explained_by_findings,
    expected - billed
        - ({% for type in types %}{{ type }}{% if not loop.last %} + {% endif %}{% endfor %})
        - within_tolerance - below_materiality as unexplained,
    invoiced_total - collected as outstanding
from joined
