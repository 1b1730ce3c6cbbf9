{#- RA-24 Refunds owed (docs/assurance.md): over-billing found by any control on a billing-system invoice the
    customer paid. `findings` is the relation of every other control's findings (fct_leakage_findings calls
    this after its union, so reading them makes no cycle). Per invoice (account, period and currency): the
    over-billed amount is the sum of the over-billing findings (RA-23's over-collection is its own refund and
    is left out); the customer is owed what it paid above the invoice without it, at most the over-billed
    amount: least(over-billed, greatest(collected - (total - over-billed), 0)), so a full payment is owed
    the whole over-billing and a payment that did not reach the correct total is owed nothing. Valued with
    direction none: the customer harm is already the over-billing findings' own. -#}
{% macro ra_refunds_owed(findings) -%}
with over_billed as (
    select
        account_id, billing_period, currency,
        sum(leakage_amount) as over_billed,
        count(*) as over_findings,
        -- a call two findings name is one call of evidence
        list_sort(list_distinct(flatten(list(evidence_call_ids)))) as call_ids,
        case when sum(evidence_calls) = sum(len(evidence_call_ids))
             then len(list_distinct(flatten(list(evidence_call_ids)))) else sum(evidence_calls) end as calls,
        string_agg(distinct control_id || ' ' || finding_type, ', ' order by control_id || ' ' || finding_type) as found_by
    from {{ findings }}
    where direction = 'over_billing' and leakage_amount > 0 and control_id not in ('RA-23', 'RA-24')
    group by account_id, billing_period, currency
),

owed as (
    select
        collection.*,
        over_billed.over_billed,
        over_billed.over_findings,
        over_billed.call_ids,
        over_billed.calls,
        over_billed.found_by,
        least(over_billed.over_billed,
              greatest(collection.collected - (collection.total_amount - over_billed.over_billed), 0)) as refund
    from {{ ref('int_ra_invoices_collected') }} as collection
    inner join over_billed using (account_id, billing_period, currency)
    where collection.collected > 0
)

select
    {{ ra_finding('RA-24', "'refund_owed'", 'account_id', 'billing_period', 'currency', 'invoice_number',
                  'over_billed', 'refund', 'refund', "'none'", 'call_ids[1:100]', 'calls',
                  "invoice_number || ' paid ' || collected || ' of ' || total_amount || ' ' || currency
                   || ', over-billed ' || over_billed || ' (' || over_findings || ' finding(s): ' || found_by
                   || '): ' || refund || ' to refund'") }}
from owed
where refund > 0
{%- endmacro %}
