-- Control coverage by leakage area: every control of the catalog (seed ra_controls), what it checked and
-- found in the periods under assurance. `items_checked` counts what the control compared (calls, charges,
-- files, invoices, switch-days, closed months); an area with a control that checked nothing is not
-- covered.
with findings as (
    select control_id, count(*) as findings, sum(leakage_amount) filter (where currency is not null) as leakage
    from {{ ref('fct_leakage_findings') }}
    group by control_id
),

checked as (
    select 'RA-01' as control_id, count(*) as items_checked
    from {{ source('raw', 'load_audit') }} where source in ('asterisk', 'freeswitch', 'carrier')
    union all select 'RA-02', count(*) from {{ ref('rpt_mediation_conservation') }}
    union all select 'RA-03', count(*) from {{ ref('int_ra_usage_reconciled') }}
    union all select 'RA-04', count(*) from {{ ref('int_ra_usage_reconciled') }} where billed_lines > 0
    union all select 'RA-05', count(*) from {{ ref('int_ra_usage_reconciled') }} where billed_lines > 0
    union all select 'RA-06', count(*) from {{ ref('int_ra_usage_reconciled') }} where expected_amount is not null
    union all select 'RA-07', count(*) from {{ ref('int_ra_charges_reconciled') }}
    union all select 'RA-08', count(*) from {{ ref('int_ra_charges_reconciled') }} where end_date is not null
    union all select 'RA-09', count(*) from {{ ref('int_ra_usage_reconciled') }} where billed_lines > 0
    union all select 'RA-10', count(*) from {{ ref('int_period_statuses_derived') }} where is_closed  -- closed months
    union all select 'RA-11', (select count(*) from {{ ref('fct_suspense') }}) + (select count(*) from {{ ref('fct_rating_suspense') }})
    union all select 'RA-12', count(*) from {{ ref('rpt_rating_margin') }}
    union all select 'RA-13', count(*) from {{ ref('fct_invoices') }} where status = 'closed'  -- closed invoices
    union all select 'RA-14', count(distinct switch_id || call_date) from {{ ref('fct_calls') }}
    union all select 'RA-15', count(*) from {{ ref('int_ra_invoices_collected') }}
    union all select 'RA-22', count(*) from {{ ref('stg_billing_export__invoices') }}
    union all select 'RA-23', count(*) from {{ ref('int_ra_payments_applied') }}  -- payments
    union all select 'RA-24', count(*) from {{ ref('int_ra_invoices_collected') }} where collected > 0  -- paid invoices
    union all select 'RA-18', count(*) from {{ ref('int_ra_usage_reconciled') }} where billed_lines > 0
    union all select 'RA-19', count(distinct account_id || billing_period) from {{ ref('int_ra_usage_reconciled') }}
    union all select 'RA-20', count(*) from {{ ref('int_ra_charges_reconciled') }} where billed_lines > 0
    union all select 'RA-21', count(*) from {{ ref('int_ra_usage_reconciled') }} where billed_lines > 0
    union all select 'RA-16', count(*) from {{ ref('int_ra_switch_files_parsed') }}  -- switch files named by hour or number
    union all select 'RA-17', (select count(distinct switch_id || date_trunc('hour', start_at)) from {{ ref('fct_calls') }})
        + (select count(distinct trunk_id || date_trunc('hour', start_at)) from {{ ref('fct_calls') }})  -- switch and trunk hours
    union all select 'RA-25', count(*) from {{ ref('stg_vendor__invoice_lines') }}  -- vendor invoice lines
    union all select 'RA-26', count(*) from {{ ref('stg_billing_export__invoices') }}  -- invoices, discounts judged
)

select
    controls.leakage_area,
    controls.control_id,
    controls.control_name,
    coalesce(checked.items_checked, 0) as items_checked,
    coalesce(findings.findings, 0) as findings,
    coalesce(findings.leakage, 0) as leakage,
    coalesce(checked.items_checked, 0) > 0 as is_covered
from {{ ref('ra_controls') }} as controls
left join checked using (control_id)
left join findings using (control_id)
order by controls.leakage_area, controls.control_id
