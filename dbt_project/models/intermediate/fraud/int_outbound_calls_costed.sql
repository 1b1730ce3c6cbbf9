-- Every mediated outbound call as fraud detection sees it, priced or not: a call the account's plan cannot
-- price (rating suspense) or that no vendor deck priced (no route, cost suspense) is what a hijacked PBX
-- dialling unusual places makes, so it is here too. When its CDR was written (end_at: a detector learns of
-- a call when the call ends), what it cost the account (charge; null when unpriced) and what it costs the
-- operator at the terminating vendor (exposure, the money fraud takes), both in EUR at the day's FX rate.
-- Without a vendor price the exposure is estimated (exposure_is_estimate) from int_range_costs_estimated:
-- the median vendor price of the longest deck range matching the number, else fraud_default_rate_eur.
-- Flags the features count; local hours are the account's (CRM time zone).
{{ config(materialized='table') }}

with calls as (
    select
        mediated.call_id,
        mediated.account_id,
        mediated.switch_id || '|' || coalesce(mediated.trunk_id, 'account:' || mediated.account_id) as trunk_key,
        mediated.start_at,
        mediated.end_at,
        mediated.billable_seconds,
        mediated.a_number,
        mediated.b_number,
        mediated.call_type,
        mediated.destination_country,
        rated.call_id is not null as is_rated,
        rated.currency,
        rated.cost,
        rated.vendor_cost_in_currency as vendor_cost
    from {{ ref('fct_calls') }} as mediated
    left join {{ ref('fct_rated_calls') }} as rated on rated.call_id = mediated.call_id
    where mediated.direction = 'outbound' and mediated.account_id is not null
),

-- Every prefix a number is matched against, of three lists: the vendor decks' ranges (the range a call is
-- to and its reference price), the numbering plan's number types, and the committed high-risk list.
prefixes as (
    select distinct prefix, 'deck' as kind, cast(null as varchar) as number_type
    from {{ ref('int_range_costs_estimated') }}
    union all
    select cast(prefix as varchar), 'type', number_type from {{ ref('number_types') }}
    union all
    select cast(prefix as varchar), 'listed', null from {{ ref('fraud_high_risk_ranges') }}
),

-- Hash-joinable longest-prefix match, once per distinct number: each cut at the prefix lengths the lists have.
numbers as (
    select
        numbers.b_number,
        arg_max(prefixes.prefix, length(prefixes.prefix)) filter (where prefixes.kind = 'deck') as range_prefix,
        arg_max(prefixes.number_type, length(prefixes.prefix)) filter (where prefixes.kind = 'type') as number_type,
        coalesce(bool_or(prefixes.kind = 'listed'), false) as is_listed
    from (select distinct b_number from calls where b_number is not null) as numbers
    cross join (select distinct length(prefix) as digits from prefixes) as lengths
    inner join prefixes on prefixes.prefix = left(numbers.b_number, lengths.digits)
    group by numbers.b_number
),

accounts as (
    select account_id, timezone, country_code, currency, created_date from {{ ref('stg_crm__accounts') }}
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
    select rate_day, base_currency, rate from {{ ref('int_fx_rates_carried_forward') }} where quote_currency = 'EUR'
),

priced as (
    select
        calls.*,
        numbers.range_prefix,
        numbers.number_type,
        coalesce(numbers.is_listed, false) as is_listed,
        coalesce(reference.is_high_cost, false) as is_high_cost,
        accounts.created_date,
        accounts.country_code as home_country,
        calls.start_at + zone_hours.utc_offset as local_start,
        case when calls.currency = 'EUR' then 1 else fx.rate end as to_eur,
        -- the reference price: connect fee and per-second share of the minute rate, answered calls only
        case when calls.billable_seconds > 0 then
            coalesce(reference.connect_fee_eur, 0)
            + coalesce(reference.rate_per_minute_eur, {{ var('fraud_default_rate_eur') }}) * calls.billable_seconds / 60.0
        else 0 end as estimated_exposure_eur
    from calls
    left join numbers on numbers.b_number = calls.b_number
    left join {{ ref('int_range_costs_estimated') }} as reference
        on reference.prefix = numbers.range_prefix and reference.day = cast(calls.start_at as date)
    left join accounts on accounts.account_id = calls.account_id
    left join zone_hours
        on zone_hours.timezone = accounts.timezone and zone_hours.utc_hour = date_trunc('hour', calls.start_at)
    left join fx on fx.rate_day = cast(calls.start_at as date) and fx.base_currency = calls.currency
),

-- Wangiri: a short or unanswered inbound call to the account from a number, and then the account's users
-- ringing that number, or its block (all but the last fraud_wangiri_block_digits digits), back within
-- fraud_wangiri_hours. Only a callback abroad or to a high-risk number counts: calling back a local
-- missed call is ordinary.
rang as (
    select account_id, a_number, end_at, left(a_number, length(a_number) - {{ var('fraud_wangiri_block_digits') }}) as block
    from {{ ref('fct_calls') }}
    where direction = 'inbound' and account_id is not null
        and length(a_number) > {{ var('fraud_wangiri_block_digits') }} + 3
        and (billable_seconds = 0 or billable_seconds < {{ var('fraud_short_call_seconds') }})
),

callbacks as (
    select priced.call_id, count(*) as rang_before
    from priced
    inner join rang
        on rang.account_id = priced.account_id
        and rang.block = left(priced.b_number, length(priced.b_number) - {{ var('fraud_wangiri_block_digits') }})
        and rang.end_at <= priced.start_at
        and rang.end_at >= priced.start_at - interval {{ var('fraud_wangiri_hours') }} hour
    where priced.call_type = 'international' or priced.is_listed or priced.is_high_cost
        or priced.number_type in ({{ "'" ~ var('fraud_high_risk_number_types') | join("', '") ~ "'" }})
    group by priced.call_id
),

first_calls as (
    select
        call_id,
        coalesce(range_prefix, destination_country, left(b_number, 4)) as range_key,
        min(start_at) over (partition by account_id, destination_country, call_type) as destination_first_at,
        min(start_at) over (partition by account_id) as account_first_at,
        min(start_at) over (partition by account_id, coalesce(range_prefix, destination_country, left(b_number, 4)))
            as account_range_first_at,
        min(start_at) over (partition by coalesce(range_prefix, destination_country, left(b_number, 4)))
            as range_first_at,
        min(start_at) over () as operator_first_at
    from priced
),

flagged as (
    select
        priced.*,
        first_calls.range_key,
        first_calls.account_first_at,
        priced.number_type in ({{ "'" ~ var('fraud_high_risk_number_types') | join("', '") ~ "'" }})
            as is_high_risk_type,
        -- a range nobody had called in the operator's first fraud_new_destination_days, first called within
        -- fraud_new_range_days
        priced.start_at < first_calls.range_first_at + to_days({{ var('fraud_new_range_days') }})
            and first_calls.range_first_at
                >= first_calls.operator_first_at + to_days({{ var('fraud_new_destination_days') }}) as is_new_range,
        priced.start_at < first_calls.account_range_first_at + interval 1 day
            and first_calls.account_range_first_at
                >= first_calls.account_first_at + to_days({{ var('fraud_new_destination_days') }})
            as is_new_range_for_account,
        priced.start_at < first_calls.destination_first_at + interval 1 day
            and first_calls.destination_first_at
                >= first_calls.account_first_at + to_days({{ var('fraud_new_destination_days') }}) as is_new_destination,
        coalesce(callbacks.rang_before, 0) > 0 as is_wangiri_callback
    from priced
    inner join first_calls on first_calls.call_id = priced.call_id
    left join callbacks on callbacks.call_id = priced.call_id
)

select
    call_id,
    account_id,
    trunk_key,
    start_at,
    end_at,
    billable_seconds,
    a_number,
    b_number,
    call_type,
    destination_country,
    range_prefix,
    range_key,
    number_type,
    created_date,
    account_first_at,
    is_rated,
    billable_seconds > 0 as is_answered,
    billable_seconds > 0 and billable_seconds < {{ var('fraud_short_call_seconds') }} as is_short,
    -- high risk: the committed list, or learned: a premium-type number, a dear range, a range new to the operator
    is_listed or is_high_risk_type or is_high_cost or is_new_range as is_high_risk,
    -- high risk whatever the account's habits, for an account with no history yet: the subscribed list and
    -- premium numbers abroad (businesses call their own country's premium-rate lines every day)
    is_listed or (is_high_risk_type and destination_country is distinct from home_country) as is_known_high_risk,
    list_filter([
        case when is_listed then 'listed' end,
        case when is_high_risk_type then number_type end,
        case when is_high_cost then 'high_cost' end,
        case when is_new_range then 'new_range' end
    ], reason -> reason is not null) as high_risk_reasons,
    is_new_range_for_account,
    hour(local_start) not between {{ var('fraud_business_hours')[0] }} and {{ var('fraud_business_hours')[1] - 1 }}
        or isodow(local_start) >= 6 as is_off_hours,
    hour(local_start) in ({{ var('fraud_night_hours') | join(', ') }}) as is_night,
    isodow(local_start) >= 6 as is_weekend,
    is_new_destination,
    is_wangiri_callback,
    cast(cost * to_eur as decimal(18, 6)) as charge_eur,
    vendor_cost is null as exposure_is_estimate,
    cast(coalesce(vendor_cost * to_eur, estimated_exposure_eur) as decimal(18, 6)) as exposure_eur
from flagged
