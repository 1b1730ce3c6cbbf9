-- RA-10 Late CDRs after close: calls that arrived after their period was closed. Billing puts each on the
-- account's next open period as an adjustment (int_billing_late_calls): billed late, not lost (leakage 0).
-- A late call with no open period to go to is unbilled: leakage its cost.
select
    {{ ra_finding('RA-10', "'late_usage_after_close'", 'late.account_id', 'late.original_period', 'late.currency',
                  'late.call_id', 'late.plan_cost',
                  'case when late.billing_period is null then 0 else late.plan_cost end',
                  'case when late.billing_period is null then late.plan_cost else 0 end',
                  "case when late.billing_period is null then 'under_billing' else 'none' end",
                  '[late.call_id]', '1',
                  "'answered ' || strftime(late.answer_at, '%Y-%m-%d %H:%M') || ' UTC, after '
                   || strftime(late.original_period, '%Y-%m') || ' closed; '
                   || coalesce('billed as an adjustment in ' || strftime(late.billing_period, '%Y-%m'),
                               'no open period to bill it in')") }}
from {{ ref('int_billing_late_calls') }} as late
