-- Vendors' invoice lines (docs/ingestion.md): what each termination vendor billed per month and destination
-- (its deck's prefix): calls, minutes, amount. Every line of the latest delivery of each invoice (a re-issued
-- invoice replaces all its lines). Values are try_cast: a value that does not parse is null and named in
-- `unparsable`, so RA-25 reports the line instead of dropping it.
with lines as (
    select
        lines.*,
        audit.delivery_date,
        audit.path as source_path,
        dense_rank() over (
            partition by lines.vendor_invoice_number order by audit.delivery_date desc, audit.path desc
        ) as delivery_rank
    from {{ source('raw', 'vendor__vendor_invoices') }} as lines
    inner join {{ source('raw', 'load_audit') }} as audit using (file_id)
    where audit.status = 'loaded'
),

typed as (
    select
        vendor_invoice_number,
        line_number as line_number_text,
        try_cast(line_number as integer) as line_number,
        nullif(trim(vendor_id), '') as vendor_id,
        -- a period is a month: YYYY-MM-01 or YYYY-MM
        coalesce(
            try_cast(billing_period as date), cast(try_strptime(billing_period, '%Y-%m') as date)
        ) as billing_period_date,
        billing_period as billing_period_text,
        nullif(trim(currency), '') as currency,
        nullif(trim(prefix), '') as prefix,
        nullif(trim(destination), '') as destination,
        try_cast(calls as bigint) as calls,
        try_cast(minutes as decimal(18, 4)) as minutes,
        try_cast(amount as decimal(18, 6)) as amount,
        calls as calls_text,
        minutes as minutes_text,
        amount as amount_text,
        file_id,
        line_no,
        source_path,
        delivery_date
    from lines
    where delivery_rank = 1
)

select
    vendor_invoice_number,
    line_number,
    vendor_id,
    case when billing_period_date = date_trunc('month', billing_period_date) then billing_period_date end
        as billing_period,
    currency,
    prefix,
    destination,
    calls,
    minutes,
    amount,
    list_filter([
        case when line_number is null then 'line_number' end,
        case when vendor_id is null then 'vendor_id' end,
        case when billing_period_date is null or billing_period_date <> date_trunc('month', billing_period_date)
            then 'billing_period' end,
        case when currency is null then 'currency' end,
        case when prefix is null then 'prefix' end,
        case when calls is null then 'calls' end,
        case when minutes is null then 'minutes' end,
        case when amount is null then 'amount' end
    ], x -> x is not null) as unparsable,
    file_id,
    line_no,
    source_path,
    delivery_date
from typed
