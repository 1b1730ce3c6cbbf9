-- Calls that arrived after their billing period was closed (DESIGN.md section 6): rated, answered in a
-- closed period, and on none of its frozen invoices. Each is billed once, as an adjustment on the
-- account's next open period, with a reference to the call and its original period; charged at its rated
-- cost (the closed period's bundles are spent), converted at the original period's last-day FX rate.
-- A closed invoice never changes; once the adjustment's period closes too, the call is on that invoice.
{{ config(materialized='table') }}  -- read by the lines and the calls drafted: one scan of the calls

with periods as (
    select * from {{ ref('int_billing_periods') }}
),

late as (
    select
        rated.call_id,
        rated.account_id,
        periods.billing_period as original_period,
        periods.period_end_date as original_period_end,
        periods.currency,
        rated.answer_at,
        rated.b_number,
        rated.destination,
        rated.call_type,
        rated.billable_seconds,
        rated.billed_seconds,
        rated.currency as plan_currency,
        rated.cost as plan_cost
    from {{ ref('int_billing_rated_calls') }} as rated
    inner join periods
        on periods.account_id = rated.account_id
        and rated.answer_at >= periods.period_start_at and rated.answer_at < periods.period_end_at
    where periods.is_closed
        and rated.billable_seconds > 0
        and rated.call_id not in (select call_id from {{ source('billing', 'closed_invoice_calls') }})
),

targets as (
    select late.call_id, min(periods.billing_period) as billing_period
    from late
    inner join periods
        on periods.account_id = late.account_id
        and periods.billing_period > late.original_period
        and not periods.is_closed
    group by late.call_id
)

select
    late.* exclude (original_period_end, plan_cost),
    targets.billing_period,
    late.plan_cost,
    case when late.plan_currency = late.currency then late.plan_cost
        else {{ round_call_amount('late.plan_cost * fx.rate') }} end as charge
from late
left join targets using (call_id)
left join {{ ref('int_fx_daily_rates') }} as fx
    on fx.rate_day = late.original_period_end
    and fx.base_currency = late.plan_currency and fx.quote_currency = late.currency
