-- The general-ledger journal of issued (closed) invoices, for an ERP (docs/billing.md): per invoice, a
-- debit to receivables for its total, credits to revenue by charge type (usage lines, volume tiers and
-- late-call adjustments are usage revenue), a debit to discounts for promotions, and a credit to tax payable
-- per tax. GL account codes are configuration (var gl_accounts). Each invoice's entries balance (tested).
{%- set gl = var('gl_accounts') %}
with lines as (
    select lines.*, invoices.issue_date
    from {{ ref('fct_invoice_lines') }} as lines
    inner join {{ ref('fct_invoices') }} as invoices using (invoice_number)
    where invoices.status = 'closed'
),

entries as (
    -- one entry per line: the receivable side of every line, and its revenue, discount or tax side
    select
        invoice_number, account_id, billing_period, issue_date, currency,
        '{{ gl.receivable }}' as gl_account, 'Trade receivables' as entry, amount as debit, 0 as credit
    from lines

    union all

    select
        invoice_number, account_id, billing_period, issue_date, currency,
        case
            when line_type = 'discount' then '{{ gl.discount }}'
            when line_type = 'tax' then '{{ gl.tax_payable }}'
            when charge_type = 'recurring' then '{{ gl.recurring }}'
            when charge_type = 'bundle' then '{{ gl.bundle }}'
            when charge_type = 'one_time' then '{{ gl.one_time }}'
            else '{{ gl.usage }}'
        end as gl_account,
        case
            when line_type = 'discount' then 'Discounts and promotions'
            when line_type = 'tax' then 'Tax payable: ' || tax_name
            else 'Revenue: ' || replace(charge_type, '_', ' ')
        end as entry,
        case when line_type = 'discount' then -amount else 0 end as debit,
        case when line_type = 'discount' then 0 else amount end as credit
    from lines
)

select
    issue_date as journal_date,
    invoice_number,
    account_id,
    billing_period,
    gl_account,
    entry,
    cast(sum(debit) as decimal(18, 2)) as debit,
    cast(sum(credit) as decimal(18, 2)) as credit,
    currency
from entries
group by issue_date, invoice_number, account_id, billing_period, gl_account, entry, currency
having sum(debit) <> 0 or sum(credit) <> 0
