-- One row per account and billing period: a calendar month in the account's time zone
-- (docs/billing.md), with its UTC bounds [period_start_at, period_end_at) for the calls answered in it, its
-- jurisdiction and currency, and whether the period is closed: the months of the rated calls and the run's
-- billing months (vars billing_from, billing_to), from the account's creation on. Billing models keep the
-- run's periods (in_billing_range).
{{ config(materialized='table') }}  -- read by every billing model: bounds computed once

with accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

bounds as (
    -- from the first to the last local month any account's calls were answered in (each account's first and
    -- last call converted in its own zone), widened to the run's billing months: late calls are looked up in
    -- every closed period, not only the run's
    select
        {%- if billing_range_given() %}
        {%- set first, last = billing_range() %}
        least(min(date_trunc('month', first_local)), cast('{{ first }}' as date)) as first_month,
        greatest(max(date_trunc('month', last_local)), cast('{{ last }}' as date)) as last_month
        {%- else %}
        min(date_trunc('month', first_local)) as first_month,
        max(date_trunc('month', last_local)) as last_month
        {%- endif %}
    from (
        select
            {{ utc_to_local('accounts.timezone', 'calls.first_at') }} as first_local,
            {{ utc_to_local('accounts.timezone', 'calls.last_at') }} as last_local
        from (
            select account_id, min(answer_at) as first_at, max(answer_at) as last_at
            from {{ ref('int_calls_rated_for_billing') }}
            group by account_id
        ) as calls
        inner join accounts using (account_id)
    )
),

months as (
    select cast(month as date) as billing_period
    from bounds, unnest(generate_series(bounds.first_month, bounds.last_month, interval 1 month)) as m(month)
)

select
    accounts.account_id,
    months.billing_period,
    cast(months.billing_period + interval 1 month - interval 1 day as date) as period_end_date,
    cast(months.billing_period + interval 1 month as date) as next_period,
    date_diff('day', months.billing_period, cast(months.billing_period + interval 1 month as date)) as days_in_period,
    {{ local_to_utc('accounts.timezone', 'cast(months.billing_period as timestamp)') }} as period_start_at,
    {{ local_to_utc('accounts.timezone', 'cast(months.billing_period + interval 1 month as timestamp)') }}
        as period_end_at,
    accounts.currency,
    accounts.timezone,
    accounts.country_code as jurisdiction,
    coalesce(status.is_closed, false) as is_closed
from accounts
inner join months on months.billing_period >= date_trunc('month', accounts.created_date)
left join {{ ref('int_period_statuses_derived') }} as status on status.billing_period = months.billing_period
