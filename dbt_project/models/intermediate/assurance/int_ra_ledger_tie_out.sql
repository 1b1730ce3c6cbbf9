-- RA-13 Invoice-to-ledger tie-out: the billing system's invoice header against its own lines (net = the
-- lines' sum per charge type rounded to the currency's minor unit; total = net + tax), and each of
-- tollhouse's closed invoices against its journal (the receivable debit equals the total).
with periods as (
    select * from {{ ref('int_ra_periods') }}
),

bss_lines as (
    select invoice_number, sum(net) as lines_net
    from (
        select invoice_number, line_type, {{ round_money('sum(amount)', 'any_value(currency)') }} as net
        from {{ ref('stg_billing_export__invoice_lines') }}
        group by invoice_number, line_type
    )
    group by invoice_number
),

bss as (
    select invoices.*, coalesce(bss_lines.lines_net, 0) as lines_net
    from {{ ref('stg_billing_export__invoices') }} as invoices
    inner join periods using (billing_period)
    left join bss_lines using (invoice_number)
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
                  "'billing_export:' || invoice_number", 'lines_net + tax_amount', 'total_amount',
                  'abs(lines_net + tax_amount - total_amount)', "'none'", '[]::varchar[]', '0',
                  "'billing system invoice ' || invoice_number || ': header net ' || net_amount || ', total '
                   || total_amount || '; its lines sum to ' || lines_net || ' net'") }}
from bss
where net_amount <> lines_net or total_amount <> net_amount + tax_amount

union all

select
    {{ ra_finding('RA-13', "'invoice_not_tied'", 'account_id', 'billing_period', 'currency',
                  "'tollhouse:' || invoice_number", 'total', 'coalesce(receivable, 0)',
                  'abs(total - coalesce(receivable, 0))', "'none'", '[]::varchar[]', '0',
                  "'invoice ' || invoice_number || ' total ' || total || ', journal receivable '
                   || coalesce(cast(receivable as varchar), 'none')") }}
from ours
where receivable is distinct from total
