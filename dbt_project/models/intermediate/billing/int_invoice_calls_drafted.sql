-- The calls itemised on the drafted invoices of the run's periods: the period's calls as usage, and late
-- calls of closed periods as adjustments (DESIGN.md section 6). `charge` is what the invoice charges for
-- the call in the account's currency; null for a call priced by a volume tier (the tier lines price it).
{{ config(**billing_period_config()) }}

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
    cast(null as date) as original_period
from {{ ref('int_billing_calls') }}
where {{ in_billing_range('billing_period') }}

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
    original_period
from {{ ref('int_billing_late_calls') }}
where {{ in_billing_range('billing_period') }}
