{{ config(materialized="view") }}  -- a join of two tables already written; writing 10M rows again costs seconds
-- Every mediated call priced at its account's plan (DESIGN.md section 5), with what priced it: plan,
-- matched prefix and destination, the band it was answered in, and the pieces (band, slot, rate version,
-- seconds billed). Calls that could not be priced are in fct_rating_suspense, never here at zero.
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
    rated.pieces
from {{ ref('fct_calls') }} as calls
inner join {{ ref('int_calls_rated') }} as rated
    on rated.call_id = calls.call_id and rated.deck = 'customer'
where rated.rating_error is null
