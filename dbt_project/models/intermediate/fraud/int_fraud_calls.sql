-- Every rated outbound call as fraud detection sees it: when its CDR was written (end_at: a detector
-- learns of a call when the call ends), what it cost the account (charge) and what it costs the operator
-- at the terminating vendor (exposure, the money fraud takes), both in EUR at the day's FX rate, and
-- the flags the features count. Local hours are the account's (CRM time zone).
{{ config(materialized='table') }}

with calls as (
    select
        rated.call_id,
        rated.account_id,
        rated.start_at,
        mediated.end_at,
        rated.billable_seconds,
        mediated.a_number,
        rated.b_number,
        rated.call_type,
        rated.destination_country,
        rated.currency,
        rated.cost,
        coalesce(rated.vendor_cost_in_currency, 0) as vendor_cost
    from {{ ref('fct_rated_calls') }} as rated
    inner join {{ ref('fct_calls') }} as mediated on mediated.call_id = rated.call_id
    where rated.direction = 'outbound'
),

ranges as (
    select cast(prefix as varchar) as prefix from {{ ref('fraud_high_risk_ranges') }}
),

-- Hash-joinable: each call's B-number cut at the prefix lengths the list has.
high_risk as (
    select distinct calls.call_id
    from calls
    cross join (select distinct length(prefix) as digits from ranges) as lengths
    inner join ranges on ranges.prefix = left(calls.b_number, lengths.digits)
),

accounts as (
    select account_id, timezone, country_code, created_date from {{ ref('stg_crm__accounts') }}
),

-- UTC offset of each account zone for each UTC hour the calls span: one join instead of a zone
-- conversion per call.
zone_hours as (
    select
        zones.timezone,
        hours.utc_hour,
        {{ utc_to_local('zones.timezone', 'hours.utc_hour') }} - hours.utc_hour as utc_offset
    from (select distinct timezone from accounts) as zones
    cross join (
        select unnest(generate_series(
            date_trunc('hour', min(start_at)), date_trunc('hour', max(start_at)), interval 1 hour
        )) as utc_hour
        from calls
    ) as hours
),

fx as (
    select rate_day, base_currency, rate from {{ ref('int_fx_daily_rates') }} where quote_currency = 'EUR'
),

priced as (
    select
        calls.*,
        accounts.created_date,
        accounts.country_code as home_country,
        calls.start_at + zone_hours.utc_offset as local_start,
        case when calls.currency = 'EUR' then 1 else fx.rate end as to_eur
    from calls
    left join accounts on accounts.account_id = calls.account_id
    left join zone_hours
        on zone_hours.timezone = accounts.timezone and zone_hours.utc_hour = date_trunc('hour', calls.start_at)
    left join fx on fx.rate_day = cast(calls.start_at as date) and fx.base_currency = calls.currency
),

first_calls as (
    select
        call_id,
        min(start_at) over (partition by account_id, destination_country, call_type) as destination_first_at,
        min(start_at) over (partition by account_id) as account_first_at
    from calls
)

select
    priced.call_id,
    priced.account_id,
    priced.start_at,
    priced.end_at,
    priced.billable_seconds,
    priced.a_number,
    priced.b_number,
    priced.call_type,
    priced.destination_country,
    priced.created_date,
    priced.billable_seconds > 0 as is_answered,
    priced.billable_seconds > 0 and priced.billable_seconds < {{ var('fraud_short_call_seconds') }} as is_short,
    high_risk.call_id is not null as is_high_risk,
    hour(priced.local_start) not between {{ var('fraud_business_hours')[0] }} and {{ var('fraud_business_hours')[1] - 1 }}
        or isodow(priced.local_start) >= 6 as is_off_hours,
    hour(priced.local_start) in ({{ var('fraud_night_hours') | join(', ') }}) as is_night,
    isodow(priced.local_start) >= 6 as is_weekend,
    priced.start_at < first_calls.destination_first_at + interval 1 day
        and first_calls.destination_first_at
            >= first_calls.account_first_at + to_days({{ var('fraud_new_destination_days') }}) as is_new_destination,
    cast(priced.cost * priced.to_eur as decimal(18, 6)) as charge_eur,
    cast(priced.vendor_cost * priced.to_eur as decimal(18, 6)) as exposure_eur
from priced
inner join first_calls on first_calls.call_id = priced.call_id
left join high_risk on high_risk.call_id = priced.call_id
