-- Payments applied to issued (closed) invoices (docs/billing.md): a payment that names an invoice pays
-- it first; what it pays beyond that invoice's total, and every payment on account (no invoice, or one
-- that was never issued), pays the account's oldest open invoices (by due date, then number), first come
-- first applied. Both steps lay payments and invoices end to end as amount intervals and apply the overlaps
-- (set-based, no loop). What no invoice absorbs stays unapplied, a credit on the account.
with invoices as (
    select invoice_number, account_id, currency, total, due_date
    from {{ ref('fct_invoices') }}
    where status = 'closed'
),

payments as (
    select
        payments.*,
        case when invoices.invoice_number is not null then payments.invoice_number end as issued_invoice
    from {{ ref('stg_payments__payments') }} as payments
    left join invoices
        on invoices.invoice_number = payments.invoice_number and invoices.account_id = payments.account_id
),

named as (
    -- payments that name an issued invoice, end to end in arrival order against that invoice's total
    select
        payments.payment_id,
        payments.issued_invoice as invoice_number,
        payments.amount,
        invoices.total,
        sum(payments.amount) over (
            partition by payments.issued_invoice order by payments.received_date, payments.payment_id
        ) - payments.amount as paid_before
    from payments
    inner join invoices on invoices.invoice_number = payments.issued_invoice
),

named_applied as (
    select payment_id, invoice_number, greatest(0, least(amount, total - paid_before)) as applied, amount
    from named
),

pool as (
    -- what is left to apply oldest first: payments on account, and the excess of named ones
    select payments.payment_id, payments.account_id, payments.received_date,
        payments.amount - coalesce(named_applied.applied, 0) as amount
    from payments
    left join named_applied using (payment_id)
    where payments.amount - coalesce(named_applied.applied, 0) > 0
),

open_invoices as (
    select
        invoices.invoice_number,
        invoices.account_id,
        invoices.total - coalesce(sum(named_applied.applied), 0) as open_amount,
        invoices.due_date
    from invoices
    left join named_applied using (invoice_number)
    group by invoices.invoice_number, invoices.account_id, invoices.total, invoices.due_date
    having invoices.total - coalesce(sum(named_applied.applied), 0) > 0
),

pool_spans as (
    select *, sum(amount) over (partition by account_id order by received_date, payment_id) - amount as span_from
    from pool
),

invoice_spans as (
    select *,
        sum(open_amount) over (partition by account_id order by due_date, invoice_number) - open_amount as span_from
    from open_invoices
),

oldest_first as (
    select
        pool_spans.payment_id,
        invoice_spans.invoice_number,
        least(pool_spans.span_from + pool_spans.amount, invoice_spans.span_from + invoice_spans.open_amount)
            - greatest(pool_spans.span_from, invoice_spans.span_from) as applied
    from pool_spans
    inner join invoice_spans
        on invoice_spans.account_id = pool_spans.account_id
        and invoice_spans.span_from < pool_spans.span_from + pool_spans.amount
        and pool_spans.span_from < invoice_spans.span_from + invoice_spans.open_amount
)

select payments.payment_id, payments.account_id, applied.invoice_number, payments.received_date,
    payments.currency, cast(applied.applied as decimal(18, 2)) as applied_amount, applied.how
from (
    select payment_id, invoice_number, applied, 'named' as how from named_applied where applied > 0
    union all
    select payment_id, invoice_number, applied, 'oldest_first' from oldest_first
) as applied
inner join payments using (payment_id)
