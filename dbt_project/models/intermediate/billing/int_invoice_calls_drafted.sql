-- The calls itemised on the drafted invoices: the period's calls as usage, and late calls and changed
-- calls of closed periods as adjustments (docs/billing.md). `charge` is what the invoice charges for
-- the call in the account's currency (for a changed call, the difference); null for a call priced by a
-- volume tier (the tier lines price it). `rated_charge` is the call's whole rated cost in that currency,
-- from which a later change is measured once the invoice is closed.
-- A view: both parts are tables already (int_calls_billed keeps other periods' rows), and writing the
-- month's 7 million calls again took 26 s at 10 million calls.
{{ config(materialized='view') }}

select
    {{ invoice_number('account_id', 'billing_period') }} as invoice_number,
    account_id,
    billing_period,
    call_id,
    answer_at,
    b_number,
    destination,
    call_type,
    billable_seconds,
    billed_seconds,
    covered_seconds,
    charge,
    currency,
    'usage' as line_type,
    cast(null as date) as original_period,
    rated_charge
from {{ ref('int_calls_billed') }}

union all

select
    {{ invoice_number('account_id', 'billing_period') }},
    account_id,
    billing_period,
    call_id,
    answer_at,
    b_number,
    destination,
    call_type,
    billable_seconds,
    billed_seconds,
    0,
    charge,
    currency,
    'adjustment',
    original_period,
    rated_charge
from {{ ref('int_closed_period_calls_adjusted') }}
where billing_period is not null  -- a late call waits for an open month after its own
