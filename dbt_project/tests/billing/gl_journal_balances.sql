-- Each issued invoice's journal entries balance: debits = credits, and the receivable is the invoice total.
select journal.invoice_number
from {{ ref('fct_gl_journal') }} as journal
inner join {{ ref('fct_invoices') }} as invoices using (invoice_number)
group by journal.invoice_number, invoices.total
having sum(journal.debit) <> sum(journal.credit)
    or sum(journal.debit) filter (where journal.gl_account = '{{ var("gl_accounts").receivable }}') <> invoices.total
