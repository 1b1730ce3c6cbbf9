-- The FX rate of every day: a feed publishes on business days, so a day without a rate takes the latest
-- one before it (carried forward at most 31 days past the last). `rate`: one unit of base_currency in
-- quote_currency. Used per call (fct_rated_calls) with an equality join on the day.
{{ config(materialized='table') }}

with rates as (
    select * from {{ ref('stg_fx__rates') }}
),

days as (
    select pairs.base_currency, pairs.quote_currency, cast(day as date) as rate_day
    from (select distinct base_currency, quote_currency from rates) as pairs
    cross join (
        select unnest(generate_series(min(rate_date), max(rate_date) + 31, interval 1 day)) as day from rates
    ) as calendar
)

select days.rate_day, days.base_currency, days.quote_currency, rates.rate, rates.rate_date as published_on
from days
asof inner join rates
    on rates.base_currency = days.base_currency and rates.quote_currency = days.quote_currency
    and days.rate_day >= rates.rate_date
