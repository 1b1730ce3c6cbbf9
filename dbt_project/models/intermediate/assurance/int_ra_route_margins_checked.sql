-- RA-12 Negative-margin routes: per period, route and destination (the route that carried the calls, the
-- vendor and its deck's prefix), and customer rate (plan, prefix, the version in force: a price keyed in wrong
-- from a date shows apart from the right one), the outbound calls that cost more to terminate than they
-- earned. The loss (vendor cost at each call's FX rate minus revenue, in the customer plan's currency) is
-- cost leakage. Evidence: the calls, worst first.
-- Periods: the account's billing months under assurance (exported by the billing system) and every month
-- whose traffic was all delivered by the as-of day (a route loses money whether or not it was billed yet).
-- Subject: <rate_plan_id>|<matched_prefix>|<rate_valid_from>|<route_id>|<vendor_id>|<vendor_prefix>: the
-- customer rate first, then the route and the destination it lost money on.
with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

as_of as (
    select max(delivery_date) as as_of_date from {{ source('raw', 'load_audit') }} where status = 'loaded'
),

calls as (
    select rated.*, bp.billing_period, rated.pieces[1].rate_valid_from as rate_valid_from
    from {{ ref('fct_rated_calls') }} as rated
    inner join {{ ref('int_billing_periods_bounded') }} as bp
        on bp.account_id = rated.account_id
        and rated.answer_at >= bp.period_start_at and rated.answer_at < bp.period_end_at
    cross join as_of
    where rated.direction = 'outbound' and rated.billable_seconds > 0 and rated.margin is not null
        and (bp.billing_period in (select billing_period from periods) or bp.period_end_at < as_of.as_of_date)
)

select
    {{ ra_finding('RA-12', "'negative_margin'", 'null', 'billing_period', 'currency',
                  "concat_ws('|', rate_plan_id, matched_prefix, rate_valid_from, route_id, vendor_id, vendor_matched_prefix)",
                  'sum(cost)', 'sum(vendor_cost_in_currency)', '-sum(margin)', "'cost'",
                  ra_evidence('call_id', 'margin, call_id'), 'count(*)',
                  "'route ' || route_id || ' to ' || vendor_matched_prefix || ' (' || vendor_id || ') at '
                   || rate_plan_id || ' ' || matched_prefix || ' (from ' || rate_valid_from || '): '
                   || count(*) || ' call(s) earned ' || sum(cost) || ', cost ' || sum(vendor_cost_in_currency)") }}
from calls
group by billing_period, currency, route_id, vendor_id, vendor_matched_prefix, rate_plan_id, matched_prefix,
    rate_valid_from
having sum(margin) < 0
