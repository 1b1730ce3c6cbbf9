-- Invoice lines as the billing system of record issued them: every line of the latest export of each
-- invoice (a re-issued invoice replaces all its lines). Usage lines name the call by its CDR identity
-- (source, record_key) and the plan that priced it; charge lines name the subscription; discount lines
-- (negative) name the promotion in product_id.
with lines as (
    select
        lines.*,
        audit.delivery_date,
        dense_rank() over (
            partition by lines.invoice_number order by audit.delivery_date desc, audit.path desc
        ) as export_rank
    from {{ source('raw', 'billing_export__invoice_lines') }} as lines
    inner join {{ source('raw', 'load_audit') }} as audit using (file_id)
    where audit.status = 'loaded'
)

select
    invoice_number,
    cast(line_number as integer) as line_number,
    account_id,
    cast(billing_period as date) as billing_period,
    line_type,
    nullif(source, '') as source,
    nullif(record_key, '') as record_key,
    nullif(rate_plan_id, '') as rate_plan_id,
    nullif(subscription_id, '') as subscription_id,
    product_id,
    cast(quantity as bigint) as quantity,
    cast(amount as decimal(18, 6)) as amount,
    currency,
    file_id,
    line_no,
    delivery_date
from lines
where export_rank = 1
