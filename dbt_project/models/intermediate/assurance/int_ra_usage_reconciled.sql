-- CDR-to-bill match per call (controls RA-03, RA-04, RA-05, RA-09, RA-18, RA-19, RA-21): every call tollhouse
-- rated with billable seconds in a period under assurance (expected: its customer cost, plan, seconds) against
-- the billing system's usage lines for it (billed). A line names its call by (source, record_key) only, and
-- two switches of one source may share record ids: a line goes to the candidate call whose account is the
-- billed one (the invoice's), then whose seconds and amount are the line's. One outcome per call, the first
-- that applies: unbilled_usage (account_not_invoiced when the account has no invoice at all in the period),
-- billed_without_usage, duplicate_billing, billed_to_wrong_account, currency_mismatch, plan_change_misdated
-- (billed at the other plan of an account's plan change, on the wrong side of its day), wrong_plan,
-- quantity_mismatch, zero_rated_usage, rating_discrepancy (beyond var ra_amount_tolerance), else matched.
{{ config(materialized='table') }}

with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

expected as (
    select
        call_id, source, record_key, account_id, billing_period, rate_plan_id, currency, expected_amount,
        billable_seconds, answer_at
    from {{ ref('int_ra_calls_expected') }}
),

invoiced as (
    -- an account and period the billing system issued anything for (a header or a line)
    select account_id, billing_period from {{ ref('stg_billing_export__invoices') }}
    union
    select account_id, billing_period from {{ ref('stg_billing_export__invoice_lines') }}
),

lines as (
    select
        lines.invoice_number,
        lines.line_number,
        lines.source,
        lines.record_key,
        coalesce(invoices.account_id, lines.account_id) as billed_account_id,  -- who the invoice asks to pay
        lines.billing_period,
        lines.currency,
        lines.rate_plan_id,
        lines.quantity,
        lines.amount
    from {{ ref('stg_billing_export__invoice_lines') }} as lines
    inner join periods using (billing_period)
    left join {{ ref('stg_billing_export__invoices') }} as invoices using (invoice_number)
    where lines.line_type = 'usage'
),

candidates as (
    -- each line's best candidate call among those with its CDR identity
    select
        lines.*,
        expected.call_id as matched_call_id
    from lines
    inner join expected on expected.source = lines.source and expected.record_key = lines.record_key
    qualify row_number() over (
        partition by lines.invoice_number, lines.line_number
        order by (expected.account_id = lines.billed_account_id) desc,
            (expected.billable_seconds = lines.quantity) desc,
            (expected.expected_amount = lines.amount) desc,
            expected.call_id
    ) = 1
),

billed as (
    select
        matched_call_id,
        count(*) as billed_lines,
        sum(amount) as billed_amount,
        min(amount) as smallest_line,
        min(rate_plan_id) as billed_plan_id,
        min(billed_account_id) as billed_account_id,
        max(billed_account_id) as last_billed_account_id,
        min(currency) as billed_currency,
        sum(quantity) as billed_quantity,
        list(invoice_number || '/' || line_number order by invoice_number, line_number) as billed_on
    from candidates
    group by matched_call_id
),

orphans as (
    -- lines naming no rated call of a period under assurance, per CDR identity and billed account
    select
        lines.source,
        lines.record_key,
        lines.billed_account_id,
        min(lines.billing_period) as billing_period,
        any_value(lines.currency) as currency,
        count(*) as billed_lines,
        sum(lines.amount) as billed_amount,
        min(lines.amount) as smallest_line,
        min(lines.rate_plan_id) as billed_plan_id,
        sum(lines.quantity) as billed_quantity,
        list(lines.invoice_number || '/' || lines.line_number order by lines.invoice_number, lines.line_number)
            as billed_on
    from lines
    anti join expected using (source, record_key)
    group by lines.source, lines.record_key, lines.billed_account_id
),

known as (
    -- mediated calls an orphan line names (another period's, or not priced): their call id, as evidence
    select orphans.source, orphans.record_key, orphans.billed_account_id, calls.call_id
    from orphans
    inner join {{ ref('fct_calls') }} as calls using (source, record_key)
    qualify row_number() over (
        partition by orphans.source, orphans.record_key, orphans.billed_account_id
        order by (calls.account_id = orphans.billed_account_id) desc, calls.call_id
    ) = 1
),

plan_changes as (
    -- an account's plan change on day `changed_on`: the plan before it and the plan from it
    select account_id, changed_on, old_plan_id, new_plan_id
    from (
        select
            account_id,
            valid_from as changed_on,
            lag(rate_plan_id) over (partition by account_id order by valid_from) as old_plan_id,
            rate_plan_id as new_plan_id
        from {{ ref('stg_catalog__plan_assignments') }}
    )
    where old_plan_id is not null and old_plan_id <> new_plan_id
),

joined as (
    select
        expected.call_id,
        expected.source,
        expected.record_key,
        expected.account_id,
        expected.billing_period,
        expected.currency,
        expected.rate_plan_id,
        billed.billed_plan_id,
        expected.expected_amount,
        billed.billed_amount,
        coalesce(billed.billed_lines, 0) as billed_lines,
        billed.smallest_line,
        billed.billed_on,
        billed.billed_account_id,
        billed.billed_account_id is distinct from billed.last_billed_account_id as billed_to_several_accounts,
        billed.billed_currency,
        expected.billable_seconds,
        billed.billed_quantity,
        expected.answer_at,
        invoiced.account_id is not null as account_invoiced
    from expected
    left join billed on billed.matched_call_id = expected.call_id
    left join invoiced using (account_id, billing_period)
    union all
    select
        known.call_id,
        orphans.source,
        orphans.record_key,
        orphans.billed_account_id,
        orphans.billing_period,
        orphans.currency,
        null,
        orphans.billed_plan_id,
        null,
        orphans.billed_amount,
        orphans.billed_lines,
        orphans.smallest_line,
        orphans.billed_on,
        orphans.billed_account_id,
        false,
        orphans.currency,
        null,
        orphans.billed_quantity,
        null,
        true
    from orphans
    left join known using (source, record_key, billed_account_id)
),

boundaries as (
    -- per plan change, the last call before its day and the first from it billed at the right plan
    select
        changes.account_id, changes.changed_on, changes.old_plan_id, changes.new_plan_id,
        max(joined.answer_at) filter (where joined.answer_at < changes.changed_on
                                      and joined.rate_plan_id = changes.old_plan_id) as right_before,
        min(joined.answer_at) filter (where joined.answer_at >= changes.changed_on
                                      and joined.rate_plan_id = changes.new_plan_id) as right_after
    from plan_changes as changes
    left join joined
        on joined.account_id = changes.account_id
        and joined.billed_lines = 1 and joined.billed_plan_id = joined.rate_plan_id
    group by all
),

misdated as (
    -- calls billed at the other plan of their account's plan change, on the wrong side of its day and
    -- nearer to it than any call billed at the right plan on that side: the new plan applied from another
    -- day than the change's
    select joined.call_id, min(changes.changed_on) as plan_changed_on
    from joined
    inner join boundaries as changes
        on changes.account_id = joined.account_id
        and (
            (joined.answer_at < changes.changed_on and joined.rate_plan_id = changes.old_plan_id
                and joined.billed_plan_id = changes.new_plan_id
                and joined.answer_at > coalesce(changes.right_before, '-infinity'::timestamptz))
            or (joined.answer_at >= changes.changed_on and joined.rate_plan_id = changes.new_plan_id
                and joined.billed_plan_id = changes.old_plan_id
                and joined.answer_at < coalesce(changes.right_after, 'infinity'::timestamptz))
        )
    where joined.billed_lines = 1 and joined.billed_account_id = joined.account_id
    group by joined.call_id
)

select
    joined.*,
    misdated.plan_changed_on,
    coalesce(joined.expected_amount, 0) - coalesce(joined.billed_amount, 0) as gap,
    case
        when joined.billed_lines = 0 and not joined.account_invoiced then 'account_not_invoiced'
        when joined.billed_lines = 0 then 'unbilled_usage'
        when joined.expected_amount is null then 'billed_without_usage'
        when joined.billed_lines > 1 then 'duplicate_billing'
        when joined.billed_account_id <> joined.account_id then 'billed_to_wrong_account'
        when joined.billed_currency <> joined.currency then 'currency_mismatch'
        when misdated.call_id is not null then 'plan_change_misdated'
        when joined.billed_plan_id is distinct from joined.rate_plan_id then 'wrong_plan'
        when joined.billed_quantity <> joined.billable_seconds then 'quantity_mismatch'
        when joined.billed_amount = 0 and joined.expected_amount > 0 then 'zero_rated_usage'
        when abs(joined.billed_amount - joined.expected_amount) > {{ var('ra_amount_tolerance') }}
            then 'rating_discrepancy'
        else 'matched'
    end as outcome
from joined
left join misdated using (call_id)
