{{ config(materialized="view") }}
-- Outbound calls whose vendor cost could not be priced, with why and for how long: no route on the record
-- and no single route for the switch (`unknown_route`), a vendor deck that lacks the destination
-- (`unknown_destination`) or the band (`no_rate_for_band`), or a deck missing or broken
-- (`unknown_rate_plan`, `invalid_rate_plan`). Their margin is unknown until the deck or route arrives.
select
    calls.call_id,
    rated.rating_error as reason,
    calls.account_id,
    calls.switch_id,
    rated.route_id,
    rated.vendor_id,
    rated.rate_plan_id as vendor_rate_plan_id,
    calls.b_number,
    calls.start_at,
    calls.billable_seconds,
    calls.destination_country,
    calls.mediated_on as held_since,
    {{ delivery_days_since('calls.mediated_on') }} as age_days
from {{ ref('fct_calls') }} as calls
inner join {{ ref('int_calls_rated') }} as rated
    on rated.call_id = calls.call_id and rated.deck = 'vendor'
where rated.rating_error is not null
