-- One drafted invoice per account and period the run bills, from its lines: subtotal (every line but
-- tax), tax and total are sums of rounded lines, so they add up exactly. Issued the day after the period
-- (the first of the next month), due `payment_terms_days` later; the number is stable across re-runs.
{{ config(**billing_period_config()) }}

with lines as (
    select
        invoice_number,
        any_value(account_id) as account_id,
        any_value(billing_period) as billing_period,
        any_value(currency) as currency,
        sum(amount) filter (where line_type <> 'tax') as subtotal,
        coalesce(sum(amount) filter (where line_type = 'tax'), 0) as tax_total,
        sum(amount) as total,
        cast(count(*) as integer) as line_count
    from {{ ref('int_invoice_lines_drafted') }}
    where {{ in_billing_range('billing_period') }}
    group by invoice_number
),

calls as (
    select invoice_number, count(*) as call_count
    from {{ ref('int_invoice_calls_drafted') }}
    where {{ in_billing_range('billing_period') }}
    group by invoice_number
)

select
    lines.invoice_number,
    lines.account_id,
    lines.billing_period,
    cast(lines.billing_period + interval 1 month as date) as issue_date,
    cast(lines.billing_period + interval 1 month + to_days({{ var('payment_terms_days') }}) as date) as due_date,
    lines.currency,
    cast(lines.subtotal as decimal(18, 2)) as subtotal,
    cast(lines.tax_total as decimal(18, 2)) as tax_total,
    cast(lines.total as decimal(18, 2)) as total,
    lines.line_count,
    coalesce(calls.call_count, 0) as call_count,
    accounts.account_name,
    accounts.billing_email,
    accounts.address_line1,
    accounts.city,
    accounts.postcode,
    accounts.country_code,
    accounts.timezone
from lines
left join calls using (invoice_number)
inner join {{ ref('stg_crm__accounts') }} as accounts using (account_id)
