-- An invoice's total, subtotal and tax are exactly the sums of its rounded lines.
select invoices.invoice_number, invoices.total, sum(lines.amount) as lines_total
from {{ ref('fct_invoices') }} as invoices
inner join {{ ref('fct_invoice_lines') }} as lines using (invoice_number)
group by invoices.invoice_number, invoices.total, invoices.subtotal, invoices.tax_total
having invoices.total <> sum(lines.amount)
    or invoices.subtotal <> sum(lines.amount) filter (where lines.line_type <> 'tax')
    or invoices.tax_total <> coalesce(sum(lines.amount) filter (where lines.line_type = 'tax'), 0)
