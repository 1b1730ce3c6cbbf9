-- Collected per invoice of the billing system of record: payments naming the invoice, then the account's
-- payments on account applied to its oldest invoices' remaining balances (as billing allocates them), with
-- the due date (issue date + var payment_terms_days) and the day the last payment towards it arrived.
{{ config(materialized='table') }}

with periods as (
    select * from {{ ref('int_ra_periods') }}
),

invoices as (
    select
        invoices.*,
        invoices.issue_date + {{ var('payment_terms_days') }} as due_date,
        periods.as_of_date
    from {{ ref('stg_billing_export__invoices') }} as invoices
    inner join periods using (billing_period)
),

payments as (
    select * from {{ ref('stg_payments__payments') }}
),

named as (
    select invoice_number, sum(amount) as paid, max(received_date) as last_paid_on
    from payments
    where invoice_number is not null
    group by invoice_number
),

on_account as (
    select account_id, sum(amount) as unapplied, max(received_date) as last_paid_on
    from payments
    where invoice_number is null
    group by account_id
),

balances as (
    select
        invoices.*,
        coalesce(named.paid, 0) as named_paid,
        named.last_paid_on as named_last_paid_on,
        greatest(invoices.total_amount - coalesce(named.paid, 0), 0) as remaining,
        coalesce(sum(greatest(invoices.total_amount - coalesce(named.paid, 0), 0)) over (
            partition by invoices.account_id order by invoices.issue_date, invoices.invoice_number
            rows between unbounded preceding and 1 preceding
        ), 0) as remaining_before
    from invoices
    left join named using (invoice_number)
)

select
    balances.invoice_number,
    balances.account_id,
    balances.billing_period,
    balances.currency,
    balances.issue_date,
    balances.due_date,
    balances.as_of_date,
    balances.total_amount,
    balances.named_paid + applied.amount as collected,
    case when applied.amount > 0 then greatest(balances.named_last_paid_on, on_account.last_paid_on)
        else balances.named_last_paid_on end as last_paid_on
from balances
left join on_account using (account_id)
cross join lateral (
    select greatest(least(balances.remaining, coalesce(on_account.unapplied, 0) - balances.remaining_before), 0)
        as amount
) as applied
