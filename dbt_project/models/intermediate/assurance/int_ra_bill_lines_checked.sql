-- RA-18: Line-level bill accuracy: each billed usage line against the call it bills (int_ra_usage_reconciled):
-- the account (the invoice's), currency and billed seconds. A call billed to another account is a finding on
-- both: its rated charge not billed to its own account (under_billing) and the amount billed to the other
-- (over_billing). A line in another currency than the account's: the call's charge is not billed in the
-- account's currency (under_billing; the amounts are not converted). Other seconds: the amount difference.
with reconciled as (
    select * from {{ ref('int_ra_usage_reconciled') }}
    where outcome in ('billed_to_wrong_account', 'currency_mismatch', 'quantity_mismatch')
)

select
    {{ ra_finding('RA-18', 'outcome', 'account_id', 'billing_period', 'currency', 'call_id',
                  'expected_amount', '0', 'expected_amount', "'under_billing'",
                  '[call_id]', '1',
                  "case outcome
                       when 'billed_to_wrong_account' then 'billed to account ' || billed_account_id
                           || ' on ' || array_to_string(billed_on, ', ') || ', not to its own'
                       else 'billed ' || billed_amount || ' ' || billed_currency || ' on '
                           || array_to_string(billed_on, ', ') || ', the account bills in ' || currency
                   end") }}
from reconciled
where outcome in ('billed_to_wrong_account', 'currency_mismatch') and expected_amount > {{ var('ra_materiality') }}
union all
select
    {{ ra_finding('RA-18', "'billed_to_wrong_account'", 'billed_account_id', 'billing_period', 'billed_currency',
                  'call_id', '0', 'billed_amount', 'billed_amount', "'over_billing'", '[call_id]', '1',
                  "'a call of account ' || account_id || ' billed on ' || array_to_string(billed_on, ', ')") }}
from reconciled
where outcome = 'billed_to_wrong_account' and billed_amount > {{ var('ra_materiality') }}
union all
select
    {{ ra_finding('RA-18', 'outcome', 'account_id', 'billing_period', 'currency', 'call_id',
                  'expected_amount', 'billed_amount', 'abs(gap)', ra_direction('gap'), '[call_id]', '1',
                  "'billed ' || billed_quantity || ' s for ' || billed_amount || ', the call has '
                       || billable_seconds || ' s rated at ' || expected_amount") }}
from reconciled
where outcome = 'quantity_mismatch' and abs(gap) > {{ var('ra_materiality') }}
