-- Rated usage per call day, account, product (call type), destination country and carrier: the revenue,
-- termination cost and margin the finance pages slice, small enough to serve (one row per combination,
-- not per call). Amounts in the plan's currency and in the reporting currency at the call day's FX rate;
-- the margin is of the calls that have one (no vendor cost yet, or inbound: left out, counted apart).
{{ config(materialized='table') }}

with rated as (
    select * from {{ ref('fct_rated_calls') }}
),

fx as (
    select rate_day, base_currency, rate
    from {{ ref('int_fx_rates_carried_forward') }}
    where quote_currency = '{{ var("reporting_currency") }}'
),

daily as (
    select
        rated.call_date,
        rated.account_id,
        rated.currency,
        rated.call_type,
        rated.direction,
        rated.destination_country,
        rated.vendor_id,
        count(*) as calls,
        count(*) filter (where rated.billable_seconds > 0) as answered_calls,
        sum(rated.billed_seconds) as billed_seconds,
        sum(rated.cost) as revenue,
        sum(rated.vendor_cost_in_currency) as vendor_cost,
        sum(rated.margin) as margin,
        count(*) filter (where rated.margin is null and rated.direction = 'outbound') as calls_without_margin
    from rated
    group by all
)

select
    daily.*,
    '{{ var("reporting_currency") }}' as reporting_currency,
    case when daily.currency = '{{ var("reporting_currency") }}' then 1 else fx.rate end as fx_rate,
    cast(daily.revenue * case when daily.currency = '{{ var("reporting_currency") }}' then 1 else fx.rate end
        as decimal(18, 6)) as revenue_reporting,
    cast(daily.margin * case when daily.currency = '{{ var("reporting_currency") }}' then 1 else fx.rate end
        as decimal(18, 6)) as margin_reporting
from daily
left join fx on fx.base_currency = daily.currency and fx.rate_day = daily.call_date
