-- Rate plans and vendor decks that can rate: those without a tariff error. `price_denominator` is the
-- least common multiple of the plan's rate units, so a call's cost is summed exactly as a numerator over
-- it (a decimal divided by 60 is not a decimal); `minor_unit` is 10^-rounding_decimals. `plan_no`
-- numbers the plans of this tariff load, so rating joins and ASOF partitions compare one integer.
{{ config(materialized='table') }}

with plans as ({{ tariff_rows('rate_plans') }}),

units as (
    select deck, rate_plan_id, list_distinct(list(rate_unit_s)) as rate_units
    from ({{ tariff_rows('rates') }})
    where rate_unit_s > 0
    group by all
)

select
    cast(row_number() over (order by plans.deck, plans.rate_plan_id) as integer) as plan_no,
    plans.deck,
    plans.rate_plan_id,
    plans.currency,
    plans.timezone,
    plans.rounding_method,
    plans.rounding_decimals,
    plans.band_mode,
    cast(list_reduce(units.rate_units, (a, b) -> lcm(a, b)) as bigint) as price_denominator,
    cast(case when plans.rounding_decimals = 0 then '1' else '0.' || repeat('0', plans.rounding_decimals - 1) || '1' end
        as decimal(18, 6)) as minor_unit
from plans
inner join units using (deck, rate_plan_id)
where not exists (
    select 1 from {{ ref('int_tariff_errors_found') }} as errors
    where errors.deck = plans.deck and errors.rate_plan_id = plans.rate_plan_id
)
