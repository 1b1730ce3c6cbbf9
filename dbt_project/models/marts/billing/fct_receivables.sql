-- Every issued invoice as a receivable: paid so far (fct_payment_allocations), open balance, and its age as
-- of the latest delivery day loaded (var as_of overrides): days past due and the ageing bucket (current,
-- then var ageing_buckets_days, e.g. 1-30, 31-60, 61-90, over 90).
{%- set edges = var('ageing_buckets_days') %}
with as_of as (
    select {% if var('as_of', none) %}cast('{{ var("as_of") }}' as date){% else %}max(delivery_date){% endif %}
        as as_of_date
    from {{ source('raw', 'load_audit') }}
    where status = 'loaded'  -- a refused stray is dated by its path or mtime, not by a delivery
),

paid as (
    select invoice_number, sum(applied_amount) as paid
    from {{ ref('fct_payment_allocations') }}
    group by invoice_number
)

select
    invoices.invoice_number,
    invoices.account_id,
    invoices.account_name,
    invoices.billing_period,
    invoices.issue_date,
    invoices.due_date,
    invoices.currency,
    invoices.total,
    cast(coalesce(paid.paid, 0) as decimal(18, 2)) as paid,
    cast(invoices.total - coalesce(paid.paid, 0) as decimal(18, 2)) as open_amount,
    as_of.as_of_date,
    greatest(0, date_diff('day', invoices.due_date, as_of.as_of_date)) as days_past_due,
    case
        when invoices.total - coalesce(paid.paid, 0) <= 0 then 'paid'
        when as_of.as_of_date <= invoices.due_date then 'current'
        {%- set lower = namespace(value=1) %}
        {%- for edge in edges %}
        when date_diff('day', invoices.due_date, as_of.as_of_date) <= {{ edge }} then '{{ lower.value }}-{{ edge }}'
        {%- set lower.value = edge + 1 %}
        {%- endfor %}
        else 'over {{ edges[-1] }}'
    end as ageing_bucket
from {{ ref('fct_invoices') }} as invoices
cross join as_of
left join paid using (invoice_number)
where invoices.status = 'closed'
