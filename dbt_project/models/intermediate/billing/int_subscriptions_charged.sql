-- Charges from the order inventory per subscription and period (docs/billing.md), in the account's
-- currency at the product's price valid on the first day charged:
-- recurring and bundle products: quantity x monthly price, prorated by the days the subscription is
-- active in the period ([start_date, end_date), end exclusive) over the period's days;
-- one-time products: quantity x price, once, in the period the subscription starts.
-- Amounts at 6 decimals; the invoice line rounds them to the currency's minor unit.
with periods as (
    select * from {{ ref('int_billing_periods_bounded') }}
),

subscriptions as (
    select subs.*, products.product_name, products.charge_type, products.unit
    from {{ ref('stg_crm__subscriptions') }} as subs
    inner join {{ ref('stg_catalog__products') }} as products using (product_id)
    where products.charge_type in ('recurring', 'bundle', 'one_time')
),

charged as (
    select
        subscriptions.subscription_id,
        subscriptions.account_id,
        periods.billing_period,
        periods.currency,
        subscriptions.product_id,
        subscriptions.product_name,
        subscriptions.charge_type,
        subscriptions.unit,
        subscriptions.quantity,
        subscriptions.start_date,
        subscriptions.end_date,
        periods.days_in_period,
        case when subscriptions.charge_type = 'one_time' then null else
            {{ overlap_days('subscriptions.start_date', 'coalesce(subscriptions.end_date, periods.next_period)',
                            'periods.billing_period', 'periods.next_period') }}
        end as active_days,
        greatest(subscriptions.start_date, periods.billing_period) as first_charged_day
    from subscriptions
    inner join periods
        on periods.account_id = subscriptions.account_id
        and (
            (subscriptions.charge_type = 'one_time'
                and subscriptions.start_date >= periods.billing_period and subscriptions.start_date < periods.next_period)
            or (subscriptions.charge_type <> 'one_time'
                and subscriptions.start_date < periods.next_period
                and coalesce(subscriptions.end_date, periods.next_period) > periods.billing_period
                and coalesce(subscriptions.end_date, periods.next_period) > subscriptions.start_date)
        )
)

select
    charged.*,
    prices.unit_price,
    case when charged.charge_type = 'one_time' then {{ round_call_amount('charged.quantity * prices.unit_price') }}
        else {{ divide_to_call_amount('charged.quantity * prices.unit_price * charged.active_days',
                                      'charged.days_in_period') }}
    end as amount
from charged
left join {{ ref('stg_catalog__prices') }} as prices
    on prices.product_id = charged.product_id and prices.currency = charged.currency
    and prices.valid_from <= charged.first_charged_day
    and coalesce(prices.valid_to, charged.first_charged_day + 1) > charged.first_charged_day
