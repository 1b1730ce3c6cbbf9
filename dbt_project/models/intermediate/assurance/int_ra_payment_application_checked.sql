-- RA-23 Payment application: every payment received against the invoice it names (int_ra_payments_applied).
--   payment_misapplied: it names another customer's invoice. Two findings: on the payer (subject payment_id,
--     valued the amount: cash posted to the wrong customer) and on the invoice's account (subject
--     invoice_number, 0: its invoice shows money that is not its). Collection applies it to the payer's own
--     open invoices, so RA-15 reports neither a short payment there nor an over-payment on the other.
--   unapplied_cash: it names no invoice that exists (the amount), or it is cash on account beyond everything
--     the payer has open (the part left over).
--   over_collection: payments naming an invoice beyond its total; each payment's part above it (a refund
--     or credit owed), subject the payment that over-collected (a duplicate shows as the later copy).
--   payment_currency_mismatch: it names the payer's invoice in another currency (applied at face value;
--     no FX gap is valued).
with payments as (
    select * from {{ ref('int_ra_payments_applied') }}
),

collection as (
    select * from {{ ref('int_ra_invoices_collected') }}
),

open_balance as (
    -- what the payer had open for cash on account: invoices' totals less the payments naming them
    select account_id, sum(greatest(total_amount - named_paid, 0)) as open_amount
    from collection
    group by account_id
),

on_account as (
    select
        payments.*,
        coalesce(open_balance.open_amount, 0) as open_amount,
        sum(payments.amount) over (
            partition by payments.account_id order by payments.received_date, payments.payment_id
            rows unbounded preceding
        ) as paid_to
    from payments
    left join open_balance using (account_id)
    where payments.application <> 'named'
),

named as (
    select
        *,
        sum(amount) over (
            partition by invoice_number order by received_date, payment_id rows unbounded preceding
        ) as paid_to
    from payments
    where application = 'named'
),

over_collected as (
    select *, greatest(paid_to - greatest(paid_to - amount, invoice_total), 0) as excess
    from named
)

select
    {{ ra_finding('RA-23', "'payment_misapplied'", 'account_id', 'billing_period', 'currency', 'payment_id',
                  'amount', '0', 'amount', "'collection'", '[]::varchar[]', '0',
                  "payment_id || ' of ' || amount || ' ' || currency || ' from ' || account_id || ' names '
                   || invoice_number || ' of ' || invoice_account_id") }}
from payments
where application = 'misapplied'

union all

select
    {{ ra_finding('RA-23', "'payment_misapplied'", 'invoice_account_id', 'billing_period', 'invoice_currency',
                  'invoice_number', '0', '0', '0', "'none'", '[]::varchar[]', '0',
                  "invoice_number || ' named by ' || payment_id || ' of ' || amount || ' ' || currency
                   || ' from another customer, ' || account_id") }}
from payments
where application = 'misapplied'

union all

select
    {{ ra_finding('RA-23', "'unapplied_cash'", 'account_id', 'billing_period', 'currency', 'payment_id',
                  '0', 'amount', 'amount', "'collection'", '[]::varchar[]', '0',
                  "payment_id || ' of ' || amount || ' ' || currency || ' names ' || invoice_number
                   || ', an invoice the billing system never issued'") }}
from payments
where application = 'unknown_invoice'

union all

select
    {{ ra_finding('RA-23', "'unapplied_cash'", 'account_id', 'billing_period', 'currency', 'payment_id',
                  '0', 'least(amount, paid_to - greatest(paid_to - amount, open_amount))',
                  'least(amount, paid_to - greatest(paid_to - amount, open_amount))', "'collection'",
                  '[]::varchar[]', '0',
                  "payment_id || ' of ' || amount || ' ' || currency || ' on account: '
                   || least(amount, paid_to - greatest(paid_to - amount, open_amount))
                   || ' of it beyond the ' || open_amount || ' the account had open'") }}
from on_account
where application = 'on_account' and paid_to > open_amount

union all

select
    {{ ra_finding('RA-23', "'over_collection'", 'account_id', 'billing_period', 'invoice_currency', 'payment_id',
                  'invoice_total', 'invoice_total + excess', 'excess', "'over_billing'", '[]::varchar[]', '0',
                  "payment_id || ' of ' || amount || ' ' || currency || ' takes ' || invoice_number
                   || ' to ' || paid_to || ' collected against its total of ' || invoice_total
                   || ': ' || excess || ' to refund or credit'") }}
from over_collected
where excess > 0

union all

select
    {{ ra_finding('RA-23', "'payment_currency_mismatch'", 'account_id', 'billing_period', 'currency', 'payment_id',
                  '0', '0', '0', "'none'", '[]::varchar[]', '0',
                  "payment_id || ' of ' || amount || ' ' || currency || ' names ' || invoice_number
                   || ' in ' || invoice_currency") }}
from payments
where is_currency_mismatch
