{#- Revenue assurance (docs/assurance.md): the shape every control's findings share. -#}

{#- A finding's id: stable across runs for the same control, type, account, period and subject, so the
    cases analysts work (orchestration/assurance/cases.py) stay attached to it. -#}
{% macro ra_finding_id(control_id, finding_type, account_id, billing_period, subject) -%}
    'F-' || substr(md5(concat_ws('|', {{ control_id }}, {{ finding_type }}, coalesce({{ account_id }}, ''),
                                 cast({{ billing_period }} as varchar), {{ subject }})), 1, 16)
{%- endmacro %}

{#- under_billing when tollhouse expected more than was billed (lost revenue), over_billing when less
    (customer harm). -#}
{% macro ra_direction(gap) -%}
    case when {{ gap }} > 0 then 'under_billing' when {{ gap }} < 0 then 'over_billing' else 'none' end
{%- endmacro %}

{#- At most this many call ids are kept as a finding's evidence; `evidence_calls` counts them all. -#}
{% macro ra_evidence(call_id, order_by) -%}
    coalesce(list({{ call_id }} order by {{ order_by }}) filter (where {{ call_id }} is not null), [])[1:100]
{%- endmacro %}

{#- The columns every control's findings have, in order (fct_leakage_findings unions them). -#}
{% macro ra_finding(control_id, finding_type, account_id, billing_period, currency, subject, expected, billed,
                    leakage, direction, evidence, evidence_calls, detail) -%}
    '{{ control_id }}' as control_id,
    {{ finding_type }} as finding_type,
    cast({{ account_id }} as varchar) as account_id,
    cast({{ billing_period }} as date) as billing_period,
    cast({{ currency }} as varchar) as currency,
    cast({{ subject }} as varchar) as subject,
    cast({{ expected }} as decimal(18, 6)) as expected_amount,
    cast({{ billed }} as decimal(18, 6)) as billed_amount,
    cast({{ leakage }} as decimal(18, 6)) as leakage_amount,
    cast({{ direction }} as varchar) as direction,
    cast({{ evidence }} as varchar[]) as evidence_call_ids,
    cast({{ evidence_calls }} as bigint) as evidence_calls,
    cast({{ detail }} as varchar) as detail
{%- endmacro %}

{#- One finding per call whose CDR-to-bill outcome is one of `outcomes` (int_ra_usage_reconciled). -#}
{% macro ra_usage_findings(control_id, outcomes) -%}
select
    {{ ra_finding(control_id, 'outcome', 'account_id', 'billing_period', 'currency',
                  "coalesce(call_id, source || ':' || record_key)", 'expected_amount', 'coalesce(billed_amount, 0)',
                  'abs(gap)', ra_direction('gap'),
                  'case when call_id is null then []::varchar[] else [call_id] end',
                  'case when call_id is null then 0 else 1 end',
                  "case outcome
                       when 'unbilled_usage' then 'rated, on no invoice of the billing system'
                       when 'billed_without_usage' then 'billed as ' || source || ' record ' || record_key
                           || ', no rated call in the period' || case when call_id is null then ' (unknown to mediation)' else '' end
                       when 'duplicate_billing' then 'billed ' || billed_lines || ' times: ' || array_to_string(billed_on, ', ')
                       when 'wrong_plan' then 'billed at ' || coalesce(billed_plan_id, 'no plan') || ', its plan is ' || rate_plan_id
                       when 'zero_rated_usage' then 'billed at zero'
                       else 'billed ' || billed_amount || ', re-rated at ' || expected_amount
                   end") }}
from {{ ref('int_ra_usage_reconciled') }}
where outcome in ({{ "'" ~ outcomes | join("', '") ~ "'" }})
    and (abs(gap) > {{ var('ra_materiality') }} or outcome = 'wrong_plan')  -- a wrong plan is a finding at any amount
{%- endmacro %}

{#- One finding per subscription and period whose order-to-bill outcome is one of `outcomes`. -#}
{% macro ra_charge_findings(control_id, outcomes) -%}
select
    {{ ra_finding(control_id, 'outcome', 'account_id', 'billing_period', 'currency', 'subscription_id',
                  'coalesce(expected_amount, 0)', 'coalesce(billed_amount, 0)', 'abs(gap)', ra_direction('gap'),
                  '[]::varchar[]', '0',
                  "case outcome
                       when 'subscription_not_billed' then product_id || ' on no invoice of the billing system'
                       when 'billed_after_cancellation' then product_id || ' ended ' || end_date || ', billed '
                           || billed_amount || ' (expected ' || coalesce(expected_amount, 0) || ')'
                       when 'billed_before_activation' then product_id || ' started ' || start_date || ', billed '
                           || billed_amount || ' (expected ' || coalesce(expected_amount, 0) || ')'
                       when 'charge_without_order' then product_id || ' billed with no order for the period'
                       else product_id || ' billed ' || billed_amount || ', expected ' || expected_amount
                   end") }}
from {{ ref('int_ra_charges_reconciled') }}
where outcome in ({{ "'" ~ outcomes | join("', '") ~ "'" }}) and abs(gap) > {{ var('ra_materiality') }}
{%- endmacro %}
