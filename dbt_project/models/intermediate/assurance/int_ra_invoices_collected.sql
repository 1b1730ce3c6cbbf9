-- Collected per invoice of the billing system of record: payments naming the invoice, then the account's
-- payments on account (int_ra_payments_applied: with those naming another customer's invoice or no
-- invoice that exists, so that one misdirected payment is not also a short payment here) applied first in, first out: in the order they arrived, each to the oldest invoices'
-- remaining balances (as billing allocates them). Set-based: each invoice's remaining balance and each
-- payment on account is an interval on the account's running total, and what a payment applies to an
-- invoice is the overlap of the two. With the due date (issue date + var payment_terms_days) and the day
-- the last payment towards the invoice arrived.
{{ config(materialized='table') }}

with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

payments as (
    select * from {{ ref('int_ra_payments_applied') }}
),

named as (
    select invoice_number, sum(amount) as paid, max(received_date) as last_paid_on
    from payments
    where application = 'named'
    group by invoice_number
),

invoices as (
    select
        invoices.*,
        invoices.issue_date + {{ var('payment_terms_days') }} as due_date,
        periods.as_of_date,
        coalesce(named.paid, 0) as named_paid,
        named.last_paid_on as named_last_paid_on,
        greatest(invoices.total_amount - coalesce(named.paid, 0), 0) as remaining
    from {{ ref('stg_billing_export__invoices') }} as invoices
    inner join periods using (billing_period)
    left join named using (invoice_number)
),

owed as (
    -- each invoice's remaining balance as [owed_from, owed_to) on the account's running total, oldest first
    select
        *,
        sum(remaining) over (
            partition by account_id order by issue_date, invoice_number rows unbounded preceding
        ) - remaining as owed_from,
        sum(remaining) over (
            partition by account_id order by issue_date, invoice_number rows unbounded preceding
        ) as owed_to
    from invoices
),

on_account as (
    -- each payment on account as [paid_from, paid_to) on the same running total, in order of arrival
    select
        account_id,
        received_date,
        sum(amount) over (partition by account_id order by received_date, payment_id rows unbounded preceding)
            - amount as paid_from,
        sum(amount) over (partition by account_id order by received_date, payment_id rows unbounded preceding)
            as paid_to
    from payments
    where application <> 'named'
),

applied as (
    select
        owed.invoice_number,
        sum(least(owed.owed_to, on_account.paid_to) - greatest(owed.owed_from, on_account.paid_from)) as amount,
        max(on_account.received_date) as last_paid_on
    from owed
    inner join on_account
        on on_account.account_id = owed.account_id
        and on_account.paid_from < owed.owed_to and on_account.paid_to > owed.owed_from
    group by owed.invoice_number
)

select
    owed.invoice_number,
    owed.account_id,
    owed.billing_period,
    owed.currency,
    owed.issue_date,
    owed.due_date,
    owed.as_of_date,
    owed.total_amount,
    owed.named_paid,
    owed.named_paid + coalesce(applied.amount, 0) as collected,
    case
        when applied.amount > 0 then greatest(owed.named_last_paid_on, applied.last_paid_on)
        else owed.named_last_paid_on
    end as last_paid_on
from owed
left join applied using (invoice_number)
