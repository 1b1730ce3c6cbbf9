-- Promotions (docs/billing.md): a percentage off an account's charges of one charge type, for the
-- part of the period the promotion is valid ([valid_from, valid_to), days in the account's calendar).
-- recurring and bundle: the charge of the days a subscription is active and the promotion valid;
-- one_time: a charge whose subscription starts while it is valid; usage: the per-call charges of calls
-- answered (local date) while it is valid, and tier charges when it is valid all period.
-- The base is summed at 6 decimals; the invoice line rounds the discount once.
with promotions as (
    select * from {{ ref('stg_catalog__promotions') }}
),

periods as (
    select * from {{ ref('int_billing_periods_bounded') }}
),

subscription_bases as (
    select
        promotions.promotion_id,
        charges.billing_period,
        case when charges.charge_type = 'one_time' then charges.amount
        else {{ divide_to_call_amount(
            'charges.quantity * charges.unit_price * ' ~ overlap_days(
                'greatest(charges.start_date, promotions.valid_from)',
                'least(coalesce(charges.end_date, periods.next_period), coalesce(promotions.valid_to, periods.next_period))',
                'periods.billing_period', 'periods.next_period'),
            'charges.days_in_period') }}
        end as base
    from promotions
    inner join {{ ref('int_subscriptions_charged') }} as charges
        on charges.account_id = promotions.account_id and charges.charge_type = promotions.charge_type
    inner join periods
        on periods.account_id = charges.account_id and periods.billing_period = charges.billing_period
    where charges.charge_type <> 'one_time'
        or (charges.start_date >= promotions.valid_from
            and charges.start_date < coalesce(promotions.valid_to, charges.start_date + 1))
),

call_bases as (
    select promotions.promotion_id, calls.billing_period, calls.charge as base
    from promotions
    inner join {{ ref('int_calls_billed') }} as calls on calls.account_id = promotions.account_id
    inner join periods on periods.account_id = calls.account_id and periods.billing_period = calls.billing_period
    where promotions.charge_type = 'usage' and calls.charge is not null
        and cast({{ utc_to_local('periods.timezone', 'calls.answer_at') }} as date) >= promotions.valid_from
        and cast({{ utc_to_local('periods.timezone', 'calls.answer_at') }} as date)
            < coalesce(promotions.valid_to, periods.next_period)
),

tier_bases as (
    select promotions.promotion_id, tiers.billing_period, tiers.charge as base
    from promotions
    inner join {{ ref('int_volume_tiers_charged') }} as tiers on tiers.account_id = promotions.account_id
    inner join periods on periods.account_id = tiers.account_id and periods.billing_period = tiers.billing_period
    where promotions.charge_type = 'usage'
        and promotions.valid_from <= periods.billing_period
        and coalesce(promotions.valid_to, periods.next_period) >= periods.next_period
),

bases as (
    select * from subscription_bases
    union all
    select * from call_bases
    union all
    select * from tier_bases
)

select
    promotions.promotion_id,
    promotions.account_id,
    bases.billing_period,
    promotions.charge_type,
    promotions.discount_percent,
    promotions.valid_from,
    promotions.valid_to,
    sum(bases.base) as base
from bases
inner join promotions using (promotion_id)
group by all
having sum(bases.base) <> 0
