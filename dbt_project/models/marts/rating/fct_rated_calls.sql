{{ config(materialized="view") }}  -- a join of tables already written; writing 10M rows again costs seconds
-- Every mediated call priced at its account's plan (docs/rating.md), with what priced it: plan,
-- matched prefix and destination, the band it was answered in, and the pieces (band, slot, rate version,
-- seconds billed). Calls that could not be priced are in fct_rating_suspense, never here at zero.
-- An outbound call also carries its cost at the deck of the vendor whose route carried it, that cost in
-- the call's currency at the FX rate of its day (the latest published on or before it; 6 decimals), and
-- the margin. A call with no
-- billable seconds costs nothing; a cost that could not be priced is null here, with its reason in
-- fct_cost_suspense.
with vendor as (
    select * from {{ ref('int_calls_rated') }} where deck = 'vendor'
),

fx as (
    select * from {{ ref('int_fx_rates_carried_forward') }}
)

select
    calls.call_id,
    calls.account_id,
    calls.call_date,
    calls.start_at,
    calls.answer_at,
    calls.b_number,
    calls.billable_seconds,
    calls.call_type,
    calls.direction,
    calls.destination_country,
    rated.rate_plan_id,
    rated.currency,
    rated.matched_prefix,
    rated.destination,
    rated.answer_band,
    rated.billed_seconds,
    rated.cost,
    rated.pieces,
    vendor.route_id,
    vendor.vendor_id,
    vendor.rate_plan_id as vendor_rate_plan_id,
    vendor.matched_prefix as vendor_matched_prefix,
    vendor.cost as vendor_cost,
    vendor.currency as vendor_currency,
    vendor.pieces as vendor_pieces,
    costs.vendor_cost_in_currency,
    rated.cost - costs.vendor_cost_in_currency as margin
from {{ ref('fct_calls') }} as calls
inner join {{ ref('int_calls_rated') }} as rated
    on rated.call_id = calls.call_id and rated.deck = 'customer'
left join vendor
    on vendor.call_id = calls.call_id
left join fx
    on fx.rate_day = cast(calls.answer_at as date) and fx.base_currency = vendor.currency
    and fx.quote_currency = rated.currency
cross join lateral (
    select case
        when calls.direction = 'outbound' and calls.billable_seconds = 0 then cast(0 as decimal(18, 6))
        else cast(vendor.cost * case when vendor.currency = rated.currency then 1 else fx.rate end as decimal(18, 6))
    end as vendor_cost_in_currency
) as costs
where rated.rating_error is null
