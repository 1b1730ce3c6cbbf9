-- Invoices as the billing system of record issued them (revenue assurance's "billed" side,
-- docs/assurance.md): the latest export of each invoice number.
select
    invoice_number,
    account_id,
    cast(billing_period as date) as billing_period,
    currency,
    cast(issue_date as date) as issue_date,
    cast(net_amount as decimal(18, 2)) as net_amount,
    cast(tax_amount as decimal(18, 2)) as tax_amount,
    cast(total_amount as decimal(18, 2)) as total_amount,
    delivery_date
from ({{ latest_version('billing_export__invoices', ['invoice_number']) }})
