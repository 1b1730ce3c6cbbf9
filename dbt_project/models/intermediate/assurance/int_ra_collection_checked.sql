-- RA-15 Collection: each invoice the billing system issued, once due (issue date + var payment_terms_days)
-- as the data stands: nothing collected (invoice_unpaid, leakage the total), less than the total by more
-- than var ra_short_payment_tolerance (short_payment, leakage what is missing), or paid in full after the
-- due date (late_payment, no leakage). expected_amount is the invoice total, billed_amount what was collected.
select
    {{ ra_finding('RA-15', "case when collected = 0 then 'invoice_unpaid'
                                 when collected < total_amount - " ~ var('ra_short_payment_tolerance') ~ " then 'short_payment'
                                 else 'late_payment' end",
                  'account_id', 'billing_period', 'currency', 'invoice_number', 'total_amount', 'collected',
                  'case when collected < total_amount - ' ~ var('ra_short_payment_tolerance')
                    ~ ' then total_amount - collected else 0 end',
                  "'collection'", '[]::varchar[]', '0',
                  "invoice_number || ' of ' || total_amount || ' ' || currency || ' due ' || due_date || ': '
                   || case when collected = 0 then 'nothing collected'
                           else collected || ' collected, last on ' || last_paid_on end
                   || ' by ' || as_of_date") }}
from {{ ref('int_ra_invoices_collected') }}
where as_of_date > due_date
    and (collected < total_amount - {{ var('ra_short_payment_tolerance') }} or last_paid_on > due_date)
