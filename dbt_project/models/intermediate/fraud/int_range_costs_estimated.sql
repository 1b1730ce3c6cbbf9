-- What a minute to a range costs the operator when no vendor priced the call (it is in rating or cost
-- suspense, or its route is unknown): per range of any vendor deck and per day, the median over the decks
-- of each deck's price in EUR at the day's FX rate (its first duration group, dearest band: an estimate
-- should not under-state), and whether the range is dear: its price above the fraud_high_cost_percentile
-- of every deck's prices that day.
{{ config(materialized='table') }}

with fx as (
    select rate_day as day, base_currency as currency, rate
    from {{ ref('int_fx_rates_carried_forward') }}
    where quote_currency = 'EUR'
),

days as (
    select distinct day from fx
),

to_eur as (
    select day, currency, rate from fx
    union all
    select day, 'EUR', 1 from days
),

deck as (
    select
        rates.rate_plan_id,
        cast(rates.prefix as varchar) as prefix,
        plans.currency,
        rates.valid_from,
        rates.valid_to,
        rates.group_start_s,
        rates.rate * 60.0 / rates.rate_unit_s as rate_per_minute,
        coalesce(rates.connect_fee, 0) as connect_fee
    from {{ ref('stg_vendor__rates') }} as rates
    inner join {{ ref('stg_vendor__rate_plans') }} as plans on plans.rate_plan_id = rates.rate_plan_id
    where len(rates.unparsable) = 0 and rates.rate_unit_s > 0 and rates.prefix is not null
),

-- one price per deck, range and day: the rows valid that day, of the range's first duration group
valid as (
    select
        to_eur.day,
        deck.rate_plan_id,
        deck.prefix,
        deck.group_start_s,
        deck.rate_per_minute * to_eur.rate as rate_per_minute_eur,
        deck.connect_fee * to_eur.rate as connect_fee_eur
    from deck
    inner join to_eur
        on to_eur.currency = deck.currency
        and to_eur.day >= deck.valid_from
        and (deck.valid_to is null or to_eur.day < deck.valid_to)
    qualify deck.group_start_s = min(deck.group_start_s) over (partition by to_eur.day, deck.rate_plan_id, deck.prefix)
),

per_deck as (
    select day, rate_plan_id, prefix, max(rate_per_minute_eur) as rate_per_minute_eur,
        max(connect_fee_eur) as connect_fee_eur
    from valid
    group by day, rate_plan_id, prefix
),

dear as (
    select day, quantile_cont(rate_per_minute_eur, {{ var('fraud_high_cost_percentile') }}) as dear_from
    from per_deck
    group by day
)

select
    per_deck.day,
    per_deck.prefix,
    count(*) as decks,
    cast(median(per_deck.rate_per_minute_eur) as decimal(18, 8)) as rate_per_minute_eur,
    cast(median(per_deck.connect_fee_eur) as decimal(18, 8)) as connect_fee_eur,
    median(per_deck.rate_per_minute_eur) > any_value(dear.dear_from) as is_high_cost
from per_deck
inner join dear on dear.day = per_deck.day
group by per_deck.day, per_deck.prefix
