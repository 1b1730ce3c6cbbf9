-- RA-12 Negative-margin routes: per period, customer rate (plan, prefix, the version in force: a price keyed
-- in wrong from a date shows apart from the right one) and vendor rate (vendor, prefix)
-- whose outbound calls cost more to terminate than they earned. The loss (vendor cost at each call's FX
-- rate minus revenue, in the customer plan's currency) is cost leakage. Evidence: the calls, worst first.
with periods as (
    select * from {{ ref('int_ra_periods') }}
),

calls as (
    select rated.*, bp.billing_period, rated.pieces[1].rate_valid_from as rate_valid_from
    from {{ ref('fct_rated_calls') }} as rated
    inner join {{ ref('int_billing_periods') }} as bp
        on bp.account_id = rated.account_id
        and rated.answer_at >= bp.period_start_at and rated.answer_at < bp.period_end_at
    inner join periods on periods.billing_period = bp.billing_period
    where rated.direction = 'outbound' and rated.billable_seconds > 0 and rated.margin is not null
)

select
    {{ ra_finding('RA-12', "'negative_margin'", 'null', 'billing_period', 'currency',
                  "concat_ws('|', rate_plan_id, matched_prefix, rate_valid_from, vendor_id, vendor_matched_prefix)",
                  'sum(cost)', 'sum(vendor_cost_in_currency)', '-sum(margin)', "'cost'",
                  ra_evidence('call_id', 'margin, call_id'), 'count(*)',
                  "rate_plan_id || ' ' || matched_prefix || ' (from ' || rate_valid_from || ') via ' || vendor_id || ' ' || vendor_matched_prefix || ': '
                   || count(*) || ' call(s) earned ' || sum(cost) || ', cost ' || sum(vendor_cost_in_currency)") }}
from calls
group by billing_period, currency, rate_plan_id, matched_prefix, rate_valid_from, vendor_id, vendor_matched_prefix
having sum(margin) < 0
