-- Late information about the calls of closed billing periods (docs/billing.md), one row per call and
-- account whose charge the closed invoices do not carry as it should be now:
--   a late call     rated, answered in a closed period, on none of its account's frozen invoices (it arrived
--                   after the close): charged its rated cost (the closed period's bundles are spent)
--   a changed call  on a closed invoice, and since re-mediated or re-rated (a partial call completed, a new
--                   rate, a later duplicate or reject, another owner): charged the difference between what
--                   it should be charged now and what the closed invoices charged for it, a debit or a credit
-- Each is billed as an adjustment on the account's next open period, with a reference to the call and its
-- original period (and invoice). Amounts are in the account's currency at the original period's last-day
-- FX rate. A closed invoice never changes; once the adjustment's period closes, the adjustment is frozen
-- too, the call's billed total is its current charge, and a re-run finds nothing more to bill.
-- What a call should be charged now: its rated cost, but for a call its closed period priced by a volume
-- tier or (in part) from a bundle, whose tier and bundle are spent as frozen: that charge moved by the
-- change of its rated cost (never below zero for a bundle's call).
{{ config(materialized='table') }}  -- read by the lines and the calls drafted: one scan of the calls

with periods as (
    select * from {{ ref('int_billing_periods_bounded') }}
),

current_calls as (
    -- the calls answered in a closed period of their account, as they are rated now
    select
        rated.call_id,
        rated.account_id,
        periods.billing_period as original_period,
        periods.currency,
        rated.answer_at,
        rated.b_number,
        rated.destination,
        rated.call_type,
        rated.billable_seconds,
        rated.billed_seconds,
        rated.currency as plan_currency,
        rated.cost as plan_cost,
        case when rated.currency = periods.currency then rated.cost
            else {{ round_call_amount('rated.cost * fx.rate') }} end as rated_charge
    from {{ ref('int_calls_rated_for_billing') }} as rated
    inner join periods
        on periods.account_id = rated.account_id
        and rated.answer_at >= periods.period_start_at and rated.answer_at < periods.period_end_at
    left join {{ ref('int_fx_rates_carried_forward') }} as fx
        on fx.rate_day = periods.period_end_date
        and fx.base_currency = rated.currency and fx.quote_currency = periods.currency
    where periods.is_closed and rated.billable_seconds > 0
),

frozen as (
    -- what the closed invoices charged for each call and account, all told, and the latest state billed
    select
        frozen.call_id,
        frozen.account_id,
        min(coalesce(frozen.original_period, frozen.billing_period)) as original_period,
        arg_min(frozen.invoice_number, frozen.billing_period) as original_invoice,
        sum(coalesce(frozen.charge, 0)) as billed_charge,
        bool_or(frozen.line_type = 'usage' and frozen.charge is null) as tier_priced,
        bool_or(frozen.line_type = 'usage' and frozen.covered_seconds > 0) as bundle_covered,
        -- a struct: arg_max skips null values, and rated_charge is null in rows archived before it was kept
        arg_max({
            'rated_charge': frozen.rated_charge, 'billable_seconds': frozen.billable_seconds,
            'billed_seconds': frozen.billed_seconds, 'answer_at': frozen.answer_at, 'b_number': frozen.b_number,
            'destination': frozen.destination, 'call_type': frozen.call_type, 'currency': frozen.currency,
            'plain_charge': case when frozen.covered_seconds = 0 then frozen.charge end
        }, frozen.billing_period) as last
    from {{ source('billing', 'closed_invoice_calls') }} as frozen
    group by frozen.call_id, frozen.account_id
),

frozen_of_closed as (
    -- a call whose own period was re-opened is drafted there again (int_calls_billed), not adjusted
    select frozen.*
    from frozen
    inner join periods
        on periods.account_id = frozen.account_id and periods.billing_period = frozen.original_period
    where periods.is_closed
),

compared as (
    select
        coalesce(now.call_id, frozen.call_id) as call_id,
        coalesce(now.account_id, frozen.account_id) as account_id,
        coalesce(frozen.original_period, now.original_period) as original_period,
        frozen.original_invoice,
        coalesce(now.currency, frozen.last.currency) as currency,
        coalesce(now.answer_at, frozen.last.answer_at) as answer_at,
        coalesce(now.b_number, frozen.last.b_number) as b_number,
        coalesce(now.destination, frozen.last.destination) as destination,
        coalesce(now.call_type, frozen.last.call_type) as call_type,
        -- a call no longer billable here (a duplicate, rejected, another account's) counts 0 seconds
        coalesce(now.billable_seconds, 0) as billable_seconds,
        coalesce(now.billed_seconds, 0) as billed_seconds,
        now.plan_currency,
        now.plan_cost,
        coalesce(now.rated_charge, 0) as rated_charge,
        frozen.call_id is not null as was_billed,
        frozen.billed_charge,
        frozen.last.billable_seconds as billable_seconds_before,
        frozen.last.billed_seconds as billed_seconds_before,
        -- the rated charge the closed invoices billed against; known for a call charged its rated cost
        coalesce(frozen.last.rated_charge, frozen.last.plain_charge) as rated_charge_before,
        case
            when frozen.call_id is null then coalesce(now.rated_charge, 0)
            when not (frozen.tier_priced or frozen.bundle_covered) then coalesce(now.rated_charge, 0)
            -- archived before rated charges were kept: nothing to measure a change from
            when frozen.last.rated_charge is null then frozen.billed_charge
            when frozen.tier_priced
                then frozen.billed_charge + coalesce(now.rated_charge, 0) - frozen.last.rated_charge
            else greatest(0, frozen.billed_charge + coalesce(now.rated_charge, 0) - frozen.last.rated_charge)
        end as charge_now
    from current_calls as now
    full outer join frozen_of_closed as frozen
        on frozen.call_id = now.call_id and frozen.account_id = now.account_id
),

adjusted as (
    select
        * exclude (charge_now),
        cast(charge_now - coalesce(billed_charge, 0) as decimal(18, 6)) as charge
    from compared
    where not was_billed
        or charge_now <> billed_charge
        or rated_charge is distinct from rated_charge_before
        or billable_seconds is distinct from billable_seconds_before
        or billed_seconds is distinct from billed_seconds_before
),

targets as (
    select adjusted.call_id, adjusted.account_id, min(periods.billing_period) as billing_period
    from adjusted
    inner join periods
        on periods.account_id = adjusted.account_id
        and periods.billing_period > adjusted.original_period
        and not periods.is_closed
    group by adjusted.call_id, adjusted.account_id
)

select
    adjusted.call_id,
    adjusted.account_id,
    adjusted.original_period,
    adjusted.original_invoice,
    adjusted.currency,
    adjusted.answer_at,
    adjusted.b_number,
    adjusted.destination,
    adjusted.call_type,
    adjusted.billable_seconds,
    adjusted.billed_seconds,
    adjusted.plan_currency,
    targets.billing_period,
    adjusted.plan_cost,
    adjusted.rated_charge,
    adjusted.billed_charge,
    adjusted.billable_seconds_before,
    adjusted.billed_seconds_before,
    adjusted.charge
from adjusted
left join targets using (call_id, account_id)
