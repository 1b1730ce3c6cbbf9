-- Volume tiers per account, period and tiered call type (docs/billing.md, volume tiers): the uncovered billed
-- seconds of the period's calls of that type (int_calls_billed), in minutes, priced by the account's tier
-- plan valid on the period's last day.
-- graduated: each tier prices the minutes that fall in it and adds its flat amount when usage reaches it;
-- volume: every minute at the price of the tier the total falls in, plus that tier's flat amount. A tier
-- runs from (exclusive) to `to` (inclusive) in both modes, as "up to" is read: exactly 5,000 minutes is
-- all first tier. No usage, no charge. Edges are compared in seconds (minutes x 60), so no minute is
-- rounded.
-- Amounts at 6 decimals in the tier's currency; `charge` in the account's at the period-end FX rate.
with usage as (
    select account_id, billing_period, call_type, currency, sum(billed_seconds - covered_seconds) as seconds
    from {{ ref('int_calls_billed') }}
    where is_tiered
    group by all
),

periods as (
    select * from {{ ref('int_billing_periods_bounded') }}
),

tiers as (
    select
        assigned.account_id,
        periods.billing_period,
        periods.period_end_date,
        tiers.*,
        cast(tiers.tier_from_units * 60 as bigint) as from_s,
        cast(tiers.tier_to_units * 60 as bigint) as to_s
    from {{ ref('stg_catalog__tier_assignments') }} as assigned
    inner join {{ ref('stg_catalog__volume_tiers') }} as tiers using (tier_plan_id)
    inner join periods
        on periods.account_id = assigned.account_id
        and assigned.valid_from <= periods.period_end_date
        and coalesce(assigned.valid_to, periods.next_period) > periods.period_end_date
),

priced as (
    select
        usage.account_id,
        usage.billing_period,
        usage.call_type,
        usage.currency,
        usage.seconds as period_seconds,
        tiers.period_end_date,
        tiers.tier_plan_id,
        tiers.tier_mode,
        tiers.tier_from_units,
        tiers.tier_to_units,
        tiers.unit_price,
        tiers.currency as tier_currency,
        case tiers.tier_mode
            when 'graduated' then greatest(0, least(usage.seconds, coalesce(tiers.to_s, usage.seconds)) - tiers.from_s)
            else usage.seconds
        end as seconds,
        coalesce(tiers.flat_amount, 0) as flat_amount
    from usage
    inner join tiers using (account_id, billing_period, call_type)
    where usage.seconds > 0
        and (tiers.tier_mode = 'graduated'
            or (usage.seconds > tiers.from_s and (tiers.to_s is null or usage.seconds <= tiers.to_s)))
),

converted as (
    select
        priced.* exclude (flat_amount),
        {{ divide_to_call_amount('priced.seconds', 60) }} as minutes,
        {{ divide_to_call_amount('priced.seconds * priced.unit_price', 60) }} + priced.flat_amount as tier_amount,
        case when priced.tier_currency = priced.currency then 1 else fx.rate end as fx_rate
    from priced
    left join {{ ref('int_fx_rates_carried_forward') }} as fx
        on fx.rate_day = priced.period_end_date
        and fx.base_currency = priced.tier_currency and fx.quote_currency = priced.currency
    where priced.seconds > 0
)

select *, {{ round_call_amount('tier_amount * fx_rate') }} as charge
from converted
