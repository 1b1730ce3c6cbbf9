-- Receivables per account in its currency: invoiced (issued invoices), paid, open balance by ageing bucket,
-- and cash received but applied to no invoice (a credit).
with receivables as (
    select * from {{ ref('fct_receivables') }}
),

unapplied as (
    select payments.account_id, sum(payments.amount) - coalesce(sum(applied.applied_amount), 0) as unapplied_cash
    from {{ ref('stg_payments__payments') }} as payments
    left join (
        select payment_id, sum(applied_amount) as applied_amount from {{ ref('fct_payment_allocations') }} group by 1
    ) as applied using (payment_id)
    group by payments.account_id
)

select
    receivables.account_id,
    any_value(receivables.account_name) as account_name,
    receivables.currency,
    any_value(receivables.as_of_date) as as_of_date,
    count(*) as invoices,
    sum(receivables.total) as invoiced,
    sum(receivables.paid) as paid,
    sum(receivables.open_amount) as open_balance,
    {%- set edges = var('ageing_buckets_days') %}
    coalesce(sum(receivables.open_amount) filter (where receivables.ageing_bucket = 'current'), 0) as current_amount,
    {%- set lower = namespace(value=1) %}
    {%- for edge in edges %}
    coalesce(sum(receivables.open_amount) filter (where receivables.ageing_bucket = '{{ lower.value }}-{{ edge }}'), 0)
        as past_due_{{ lower.value }}_{{ edge }},
    {%- set lower.value = edge + 1 %}
    {%- endfor %}
    coalesce(sum(receivables.open_amount) filter (where receivables.ageing_bucket = 'over {{ edges[-1] }}'), 0)
        as past_due_over_{{ edges[-1] }},
    cast(coalesce(any_value(unapplied.unapplied_cash), 0) as decimal(18, 2)) as unapplied_cash
from receivables
left join unapplied using (account_id)
group by receivables.account_id, receivables.currency
