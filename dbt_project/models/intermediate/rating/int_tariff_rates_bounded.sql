-- The rate slots of the plans that can rate, each with where it ends: slot k of a prefix and band applies
-- to the elapsed seconds [group_start_s, slot_end_s) of a call.
{{ config(materialized='table') }}

select
    rates.deck,
    rates.rate_plan_id,
    rates.prefix,
    length(rates.prefix) as prefix_length,
    rates.destination,
    rates.band,
    rates.valid_from,
    coalesce(rates.valid_to, date '9999-12-31') as valid_until,
    rates.group_start_s,
    lead(rates.group_start_s) over (
        partition by rates.deck, rates.rate_plan_id, rates.prefix, rates.band, rates.valid_from
        order by rates.group_start_s
    ) as slot_end_s,
    rates.connect_fee,
    rates.rate,
    rates.rate_unit_s,
    rates.increment_s,
    rates.max_cost,
    rates.file_path,
    rates.line_no as file_line
from ({{ tariff_rows('rates') }}) as rates
inner join {{ ref('int_tariff_plans_validated') }} as plans using (deck, rate_plan_id)
