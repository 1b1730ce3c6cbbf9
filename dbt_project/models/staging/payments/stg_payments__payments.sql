-- Payments received (the "collected" side), the latest version of each payment_id. A null invoice_number is
-- a payment on account, which billing applies to the account's oldest open invoice.
select
    payment_id,
    account_id,
    nullif(invoice_number, '') as invoice_number,
    cast(amount as decimal(18, 2)) as amount,
    currency,
    cast(received_date as date) as received_date,
    method,
    delivery_date
from ({{ latest_version('payments__payments', ['payment_id']) }})
