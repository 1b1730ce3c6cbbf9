-- Every revenue-assurance finding (docs/assurance.md), one row per leak: the control that found it, its
-- TM Forum leakage area, type, account and period, expected, billed and leakage amount (in the account's or
-- plan's currency), direction (under_billing is lost revenue, over_billing customer harm, cost a margin
-- loss, collection money not received), the calls that prove it, and the day it was first seen.
-- finding_id is stable across runs (macros/assurance.sql) so cases stay attached; first_seen_on is the
-- data's as-of day (last delivery loaded) of the first run that found it, kept from the previous build.
{{ config(materialized='table') }}
{%- set previous = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) %}
{%- set controls = [
    'int_ra_completeness', 'int_ra_conservation', 'int_ra_cdr_to_bill', 'int_ra_rerating', 'int_ra_zero_rated',
    'int_ra_usage_without_subscription', 'int_ra_subscriptions_not_billed', 'int_ra_billing_after_cancellation',
    'int_ra_wrong_plan', 'int_ra_late_cdrs', 'int_ra_suspense_ageing', 'int_ra_negative_margin',
    'int_ra_ledger_tie_out', 'int_ra_volume_anomalies', 'int_ra_collection_findings',
    'int_ra_invoice_recomputation', 'int_ra_payment_findings',
    'int_ra_bill_line_accuracy', 'int_ra_account_not_invoiced', 'int_ra_billed_before_activation',
    'int_ra_plan_change_misdated',
    'int_ra_file_sequence', 'int_ra_silent_hours',
    'int_ra_vendor_invoices',
    'int_ra_discount_recomputation',
] %}

with findings as (
    {%- for control in controls %}
    select * from {{ ref(control) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

refunds as (
    -- RA-24 reads the other controls' over-billing findings: computed after their union, so no cycle
    {{ ra_refunds_owed('findings') }}
),

as_of as (
    select max(delivery_date) as as_of_date from {{ source('raw', 'load_audit') }} where status = 'loaded'
)

select
    {{ ra_finding_id('findings.control_id', 'findings.finding_type', 'findings.account_id',
                     'findings.billing_period', 'findings.subject') }} as finding_id,
    findings.control_id,
    controls.control_name,
    controls.leakage_area,
    findings.finding_type,
    findings.account_id,
    findings.billing_period,
    findings.currency,
    findings.subject,
    findings.expected_amount,
    findings.billed_amount,
    findings.leakage_amount,
    findings.direction,
    controls.recoverable and findings.leakage_amount > 0
        and findings.direction in ('under_billing', 'collection') as is_recoverable,
    findings.evidence_call_ids,
    findings.evidence_calls,
    findings.detail,
    {%- if previous is not none %}
    coalesce(previous.first_seen_on, as_of.as_of_date) as first_seen_on,
    {%- else %}
    as_of.as_of_date as first_seen_on,
    {%- endif %}
    as_of.as_of_date
from (select * from findings union all select * from refunds) as findings
inner join {{ ref('ra_controls') }} as controls using (control_id)
cross join as_of
{%- if previous is not none %}
left join {{ previous }} as previous
    on previous.finding_id = {{ ra_finding_id('findings.control_id', 'findings.finding_type', 'findings.account_id',
                                              'findings.billing_period', 'findings.subject') }}
{%- endif %}
