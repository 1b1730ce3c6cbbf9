-- RA-10 Late CDRs after close: rated calls answered in a closed period that its frozen invoices do not
-- carry (they arrived after the close). Billing puts each on the account's next open period as an
-- adjustment: once it is on an invoice of a later period (draft or closed), it is billed late, not lost
-- (leakage 0); a late call on no invoice is unbilled (leakage its cost in the plan's currency).
with periods as (
    -- closed as the period log says now: int_billing_periods_bounded keeps the status of the last billing run,
    -- which a close that follows it (the close's own run) does not update
    select periods.*
    from {{ ref('int_billing_periods_bounded') }} as periods
    inner join {{ ref('int_period_statuses_derived') }} as status using (billing_period)
    where status.is_closed
),

late as (
    select
        rated.call_id,
        rated.account_id,
        periods.billing_period as original_period,
        rated.currency,
        rated.answer_at,
        rated.cost
    from {{ ref('int_calls_rated_for_billing') }} as rated
    inner join periods
        on periods.account_id = rated.account_id
        and rated.answer_at >= periods.period_start_at and rated.answer_at < periods.period_end_at
    where rated.billable_seconds > 0
        and not exists (
            select 1 from {{ source('billing_closed', 'closed_invoice_calls') }} as frozen
            where frozen.call_id = rated.call_id and frozen.billing_period = periods.billing_period
        )
),

adjusted as (
    select call_id, min(billing_period) as billed_in
    from {{ ref('fct_invoice_calls') }}
    where original_period is not null
    group by call_id
)

select
    {{ ra_finding('RA-10', "'late_usage_after_close'", 'late.account_id', 'late.original_period', 'late.currency',
                  'late.call_id', 'late.cost',
                  'case when adjusted.billed_in is null then 0 else late.cost end',
                  'case when adjusted.billed_in is null then late.cost else 0 end',
                  "case when adjusted.billed_in is null then 'under_billing' else 'none' end",
                  '[late.call_id]', '1',
                  "'answered ' || strftime(late.answer_at, '%Y-%m-%d %H:%M') || ' UTC, after '
                   || strftime(late.original_period, '%Y-%m') || ' closed; '
                   || coalesce('billed as an adjustment in ' || strftime(adjusted.billed_in, '%Y-%m'),
                               'on no invoice yet')") }}
from late
left join adjusted using (call_id)
