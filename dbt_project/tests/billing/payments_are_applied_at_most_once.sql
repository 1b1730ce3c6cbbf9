-- No payment is applied beyond its amount, and no invoice is paid beyond its total.
select 'payment' as what, allocations.payment_id as id
from {{ ref('fct_payment_allocations') }} as allocations
inner join {{ ref('stg_payments__payments') }} as payments using (payment_id)
group by allocations.payment_id, payments.amount
having sum(allocations.applied_amount) > payments.amount
union all
select 'invoice', invoice_number from {{ ref('fct_receivables') }} where paid > total
