-- Every revenue-assurance finding (docs/assurance.md), one row per leak: the control that found it, its
-- TM Forum leakage area, type, account and period, expected, billed and leakage amount (in the account's or
-- plan's currency), direction (under_billing is lost revenue, over_billing customer harm, cost a margin
-- loss, collection money not received), the calls that prove it, and the day it was first seen.
-- finding_id is stable across runs (macros/assurance.sql) so cases stay attached; first_seen_on is the
-- data's as-of day (last delivery loaded) of the first run that found it, kept from the previous build.
{{ config(materialized='table') }}
{%- set previous = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) %}
{%- set controls = [
    'int_ra_completeness_checked', 'int_ra_conservation_checked', 'int_ra_cdr_to_bill_checked', 'int_ra_rating_accuracy_checked', 'int_ra_zero_rating_checked',
    'int_ra_usage_subscriptions_checked', 'int_ra_subscription_billing_checked', 'int_ra_cancellation_dates_checked',
    'int_ra_billed_plans_checked', 'int_ra_late_cdrs_checked', 'int_ra_suspense_ageing_checked', 'int_ra_route_margins_checked',
    'int_ra_ledger_tied_out', 'int_ra_switch_volumes_checked', 'int_ra_collection_checked',
    'int_ra_invoices_recomputed', 'int_ra_payment_application_checked',
    'int_ra_bill_lines_checked', 'int_ra_account_invoicing_checked', 'int_ra_activation_dates_checked',
    'int_ra_plan_change_dates_checked',
    'int_ra_file_sequence_checked', 'int_ra_silent_hours_checked',
    'int_ra_vendor_invoices_reconciled',
    'int_ra_discounts_recomputed',
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
