-- The calls billing prices: every mediated call priced at its customer plan, with what billing reads of it.
-- fct_rated_calls without the vendor side (cost, margin): at 10 million calls, joining the vendor rows and
-- FX rates billing never reads cost as much as the whole billing run.
select
    calls.call_id,
    calls.source,
    calls.record_key,  -- the CDR's identity, as the billing system of record names the call (revenue assurance)
    calls.account_id,
    calls.answer_at,
    calls.b_number,
    calls.billable_seconds,
    calls.call_type,
    calls.destination_country,
    rated.rate_plan_id,
    rated.currency,
    rated.destination,
    rated.billed_seconds,
    rated.cost,
    rated.pieces
from {{ ref('fct_calls') }} as calls
inner join {{ ref('int_calls_rated') }} as rated
    on rated.call_id = calls.call_id and rated.deck = 'customer'
where rated.rating_error is null
