-- RA-13 Invoice-to-ledger tie-out: each of tollhouse's closed invoices against its journal (the receivable
-- debit equals the total). The billing system's header against its own lines is RA-22
-- (int_ra_invoices_recomputed), the one home of invoice_not_tied for the billing system's invoices.
with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

journal as (
    select invoice_number, sum(debit) as receivable
    from {{ ref('fct_gl_journal') }}
    where gl_account = '{{ var("gl_accounts").receivable }}'
    group by invoice_number
),

ours as (
    select invoices.*, journal.receivable
    from {{ ref('fct_invoices') }} as invoices
    inner join periods using (billing_period)
    left join journal using (invoice_number)
    where invoices.status = 'closed'
)

select
    {{ ra_finding('RA-13', "'invoice_not_tied'", 'account_id', 'billing_period', 'currency',
                  "'tollhouse:' || invoice_number", 'total', 'coalesce(receivable, 0)',
                  'abs(total - coalesce(receivable, 0))', "'none'", '[]::varchar[]', '0',
                  "'invoice ' || invoice_number || ' total ' || total || ', journal receivable '
                   || coalesce(cast(receivable as varchar), 'none')") }}
from ours
where receivable is distinct from total
