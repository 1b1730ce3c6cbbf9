-- Order-to-bill match per subscription and period (controls RA-07, RA-08, RA-19, RA-20): the charge tollhouse
-- expects from the order inventory (int_subscriptions_charged, rounded to the currency's minor unit as
-- an invoice line is) against the billing system's charge lines for the subscription. Outcomes:
-- subscription_not_billed (account_not_invoiced when the account has no invoice at all in the period),
-- billed outside the service dates: billed_after_cancellation (billed above expected, or at all, for a
-- subscription that ended before the period's end) and billed_before_activation (likewise for one that
-- started after the period's first day), charge_without_order, charge_discrepancy, else matched.
{{ config(materialized='table') }}

with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

expected as (
    select
        charges.subscription_id,
        charges.account_id,
        charges.billing_period,
        charges.currency,
        charges.product_id,
        {{ round_money('charges.amount', 'charges.currency') }} as expected_amount
    from {{ ref('int_subscriptions_charged') }} as charges
    inner join periods using (billing_period)
    where charges.amount is not null
),

billed as (
    select
        lines.subscription_id,
        lines.billing_period,
        any_value(lines.account_id) as account_id,
        any_value(lines.currency) as currency,
        any_value(lines.product_id) as product_id,
        count(*) as billed_lines,
        sum(lines.amount) as billed_amount,
        list(lines.invoice_number || '/' || lines.line_number order by lines.invoice_number, lines.line_number)
            as billed_on
    from {{ ref('stg_billing_export__invoice_lines') }} as lines
    inner join periods using (billing_period)
    where lines.line_type not in ('usage', 'discount')  -- a discount is RA-26's
    group by lines.subscription_id, lines.billing_period
),

invoiced as (
    -- an account and period the billing system issued anything for (a header or a line)
    select account_id, billing_period from {{ ref('stg_billing_export__invoices') }}
    union
    select account_id, billing_period from {{ ref('stg_billing_export__invoice_lines') }}
),

joined as (
    select
        coalesce(expected.subscription_id, billed.subscription_id) as subscription_id,
        coalesce(expected.account_id, billed.account_id) as account_id,
        coalesce(expected.billing_period, billed.billing_period) as billing_period,
        coalesce(expected.currency, billed.currency) as currency,
        coalesce(expected.product_id, billed.product_id) as product_id,
        expected.expected_amount,
        billed.billed_amount,
        coalesce(billed.billed_lines, 0) as billed_lines,
        billed.billed_on,
        subs.start_date,
        subs.end_date,
        invoiced.account_id is not null as account_invoiced
    from expected
    full outer join billed
        on billed.subscription_id = expected.subscription_id and billed.billing_period = expected.billing_period
    left join {{ ref('stg_crm__subscriptions') }} as subs
        on subs.subscription_id = coalesce(expected.subscription_id, billed.subscription_id)
    left join invoiced
        on invoiced.account_id = coalesce(expected.account_id, billed.account_id)
        and invoiced.billing_period = coalesce(expected.billing_period, billed.billing_period)
)

select
    *,
    coalesce(expected_amount, 0) - coalesce(billed_amount, 0) as gap,
    case
        when billed_lines = 0 and not account_invoiced then 'account_not_invoiced'
        when billed_lines = 0 then 'subscription_not_billed'
        when end_date < billing_period + interval 1 month
            and billed_amount - coalesce(expected_amount, 0) > {{ var('ra_amount_tolerance') }}
            then 'billed_after_cancellation'
        when start_date > billing_period
            and billed_amount - coalesce(expected_amount, 0) > {{ var('ra_amount_tolerance') }}
            then 'billed_before_activation'
        when expected_amount is null then 'charge_without_order'
        when abs(billed_amount - expected_amount) > {{ var('ra_amount_tolerance') }} then 'charge_discrepancy'
        else 'matched'
    end as outcome
from joined
