-- RA-22 Invoice recomputation: every billing-system invoice header against what its own lines give.
-- Per charge type (the line type) the net is the lines' sum rounded to the currency's minor unit, and the
-- tax is that net at the tax rules' rate for the account's jurisdiction and the charge type in force on the
-- first day of the period, rounded per tax line, as the header is built. Two findings, so that their sum is
-- header total - recomputed total and nothing is counted twice:
--   tax_discrepancy: header tax <> recomputed tax (the difference);
--   invoice_not_tied: header total <> lines' net + header tax (the difference).
-- Header above the recomputation is over-billing, below under-billing. A discount line (product_id: the
-- promotion) is netted and taxed under its promotion's charge type in the catalogue, as tollhouse taxes it
-- (a promotion the catalogue does not know: untaxed). Whether the discount is right is RA-26's question.
with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

invoices as (
    select invoices.*, accounts.country_code as jurisdiction
    from {{ ref('stg_billing_export__invoices') }} as invoices
    inner join periods using (billing_period)
    left join {{ ref('stg_crm__accounts') }} as accounts using (account_id)
),

rates as (
    -- the sum of the jurisdiction's rates per charge type in force on the period's first day
    select invoices.invoice_number, rules.charge_type, sum(rules.tax_rate) as tax_rate
    from invoices
    inner join {{ ref('stg_tax__rules') }} as rules
        on rules.jurisdiction = invoices.jurisdiction
        and rules.valid_from <= invoices.billing_period
        and (rules.valid_to is null or invoices.billing_period < rules.valid_to)
    group by all
),

by_type as (
    select
        lines.invoice_number,
        case when lines.line_type = 'discount' then coalesce(promotions.charge_type, 'discount')
             else lines.line_type end as line_type,
        {{ round_money('sum(lines.amount)', 'any_value(invoices.currency)') }} as net
    from {{ ref('stg_billing_export__invoice_lines') }} as lines
    inner join invoices using (invoice_number)
    left join {{ ref('stg_catalog__promotions') }} as promotions
        on lines.line_type = 'discount' and promotions.promotion_id = lines.product_id
    group by all
),

recomputed as (
    select
        by_type.invoice_number,
        sum(by_type.net) as lines_net,
        sum({{ round_money('by_type.net * coalesce(rates.tax_rate, 0)', 'invoices.currency') }}) as tax,
        string_agg(by_type.line_type || ' ' || by_type.net || ' at ' || coalesce(rates.tax_rate, 0), '; '
                   order by by_type.line_type) as tax_lines
    from by_type
    inner join invoices using (invoice_number)
    left join rates on rates.invoice_number = by_type.invoice_number and rates.charge_type = by_type.line_type
    group by by_type.invoice_number
),

compared as (
    select
        invoices.*,
        coalesce(recomputed.lines_net, 0) as lines_net,
        coalesce(recomputed.tax, 0) as recomputed_tax,
        coalesce(recomputed.tax_lines, 'no lines') as tax_lines
    from invoices
    left join recomputed using (invoice_number)
)

select
    {{ ra_finding('RA-22', "'tax_discrepancy'", 'account_id', 'billing_period', 'currency', 'invoice_number',
                  'recomputed_tax', 'tax_amount', 'abs(tax_amount - recomputed_tax)',
                  ra_direction('recomputed_tax - tax_amount'), '[]::varchar[]', '0',
                  "'header tax ' || tax_amount || ', recomputed ' || recomputed_tax || ' ('
                   || coalesce(jurisdiction, 'no jurisdiction') || ': ' || tax_lines || ')'") }}
from compared
where tax_amount <> recomputed_tax

union all

select
    {{ ra_finding('RA-22', "'invoice_not_tied'", 'account_id', 'billing_period', 'currency', 'invoice_number',
                  'lines_net + tax_amount', 'total_amount', 'abs(total_amount - lines_net - tax_amount)',
                  ra_direction('lines_net + tax_amount - total_amount'), '[]::varchar[]', '0',
                  "'header total ' || total_amount || ' (net ' || net_amount || ', tax ' || tax_amount
                   || '); its lines sum to ' || lines_net || ' net'") }}
from compared
where total_amount <> lines_net + tax_amount
