{{ config(materialized="view") }}
-- Revenue, termination cost and margin of outbound calls per customer rate (plan, prefix, rate version)
-- and the vendor rate that carried them (vendor, prefix): where a rate loses money, this is where it
-- shows. A rate keyed in wrong (a decimal slip in a plan) or a vendor priced above retail both come out
-- as `is_negative`. Amounts are in the customer plan's currency; vendor cost at the FX rate of each
-- call's day. Calls without a margin (no vendor cost, or no FX rate yet) are counted apart and left out
-- of the amounts.
select
    rated.currency,
    rated.rate_plan_id,
    rated.matched_prefix,
    rated.destination,
    rated.pieces[1].rate_valid_from as rate_valid_from,
    rated.vendor_id,
    rated.vendor_matched_prefix,
    count(*) as calls,
    count(*) filter (where rated.margin is null) as calls_without_margin,  -- no vendor cost, or no FX rate yet
    sum(rated.billed_seconds) filter (where rated.margin is not null) as billed_seconds,
    sum(rated.cost) filter (where rated.margin is not null) as revenue,
    sum(rated.vendor_cost_in_currency) as vendor_cost,
    sum(rated.margin) as margin,
    round(100 * sum(rated.margin) / nullif(sum(rated.cost) filter (where rated.margin is not null), 0), 2)
        as margin_pct,
    coalesce(sum(rated.margin) < 0, false) as is_negative
from {{ ref('fct_rated_calls') }} as rated
where rated.direction = 'outbound' and rated.billable_seconds > 0
group by all
