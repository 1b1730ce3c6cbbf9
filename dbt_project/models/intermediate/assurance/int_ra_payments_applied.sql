-- How each payment applies (RA-15, RA-23): a payment naming an invoice of the payer's own applies to that
-- invoice (at face value, even in another currency: flagged by RA-23); any other payment is the payer's
-- cash on account, applied by int_ra_invoices_collected to the payer's oldest open invoices as billing would:
-- a payment naming another customer's invoice (misapplied) or an invoice that does not exist, and a
-- payment with no invoice number. The period of a payment is its named invoice's, else the latest period
-- under assurance that began before the month it was received (the invoice it would be paying).
with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

invoices as (
    select invoice_number, account_id, currency, billing_period, total_amount
    from {{ ref('stg_billing_export__invoices') }}
)

select
    payments.payment_id,
    payments.account_id,
    payments.invoice_number,
    payments.amount,
    payments.currency,
    payments.received_date,
    invoices.account_id as invoice_account_id,
    invoices.currency as invoice_currency,
    invoices.total_amount as invoice_total,
    case
        when payments.invoice_number is null then 'on_account'
        when invoices.invoice_number is null then 'unknown_invoice'
        when invoices.account_id is distinct from payments.account_id then 'misapplied'
        else 'named'
    end as application,
    coalesce(invoices.invoice_number is not null and invoices.currency <> payments.currency, false)
        as is_currency_mismatch,
    coalesce(
        invoices.billing_period,
        (select max(billing_period) from periods where billing_period < date_trunc('month', payments.received_date)),
        (select min(billing_period) from periods)
    ) as billing_period
from {{ ref('stg_payments__payments') }} as payments
left join invoices using (invoice_number)
