-- One row per prefix and band of a plan in an epoch (int_tariff_prefixes_flattened): the rate slots in force,
-- as a list ordered by where they start, and what the first slot charges once (connect fee, cap). A call
-- in one band joins one card on two integers, and its pieces are cut from the list without multiplying
-- rows (int_calls_rated). An epoch has no rate row starting or ending inside it, so every slot of a card
-- is valid for the whole epoch.
{{ config(materialized='table') }}

with prefixes as (
    select distinct prefix_no, plan_no, deck, rate_plan_id, epoch_from, epoch_to, prefix
    from {{ ref('int_tariff_prefixes_flattened') }}
)

select
    prefixes.prefix_no,
    rates.band,
    arg_min(rates.destination, rates.group_start_s) as destination,
    -- the first slot starts at 0 (int_tariff_errors_found: slots_out_of_order)
    arg_min({'connect_fee': rates.connect_fee, 'max_cost': rates.max_cost}, rates.group_start_s) as first_slot,
    list(
        {'slot_start_s': rates.group_start_s, 'slot_end_s': rates.slot_end_s, 'increment_s': rates.increment_s,
         'rate': rates.rate, 'rate_unit_s': rates.rate_unit_s, 'rate_valid_from': rates.valid_from,
         -- exact cost of one billed second, over the plan's price_denominator
         'unit_factor': plans.price_denominator // rates.rate_unit_s}
        order by rates.group_start_s
    ) as slots
from prefixes
inner join {{ ref('int_tariff_rates_bounded') }} as rates
    on rates.deck = prefixes.deck and rates.rate_plan_id = prefixes.rate_plan_id and rates.prefix = prefixes.prefix
    and rates.valid_from <= prefixes.epoch_from and rates.valid_until >= prefixes.epoch_to
inner join {{ ref('int_tariff_plans_validated') }} as plans using (plan_no)
group by prefixes.prefix_no, rates.band
