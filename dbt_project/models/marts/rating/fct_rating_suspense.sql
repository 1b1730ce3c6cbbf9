{{ config(materialized="view") }}
-- Mediated calls rating could not price, with why and for how long (docs/rating.md): no prefix of
-- the plan matches (`unknown_destination`), no plan for the account at the call's start
-- (`unknown_account`), a plan that is missing or breaks a tariff rule (`unknown_rate_plan`,
-- `invalid_rate_plan`), or no rate for the band the call was in (`no_rate_for_band`). Rebuilt with every
-- run, so a call leaves as soon as the tariff or plan it lacked is delivered. Age is in delivery days.
select
    calls.call_id,
    rated.rating_error as reason,
    calls.account_id,
    rated.rate_plan_id,
    calls.b_number,
    calls.start_at,
    calls.billable_seconds,
    calls.call_type,
    calls.destination_country,
    calls.mediated_on as held_since,
    {{ delivery_days_since('calls.mediated_on') }} as age_days
from {{ ref('fct_calls') }} as calls
inner join {{ ref('int_calls_rated') }} as rated
    on rated.call_id = calls.call_id and rated.deck = 'customer'
where rated.rating_error is not null
