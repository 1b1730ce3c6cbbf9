{#- Monthly billing periods (docs/billing.md). Dagster passes the months a run bills in the environment variables
    TOLLHOUSE_BILLING_FROM and TOLLHOUSE_BILLING_TO (first days, inclusive; environment variables for the reason
    macros/delivery_days.sql gives). Without them, every period is billed. -#}
{% macro billing_range() -%}
    {{- return(run_range('TOLLHOUSE_BILLING')) -}}
{%- endmacro %}

{% macro billing_range_given() -%}
    {{- return(billing_range() is not none) -}}
{%- endmacro %}

{#- `column` (a billing_period) is one of the run's periods; always true without a range. -#}
{% macro in_billing_range(column) -%}
    {%- if billing_range_given() -%}
        {%- set first, last = billing_range() %}
        ({{ column }} between cast('{{ first }}' as date) and cast('{{ last }}' as date))
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Billing models keep other periods' rows and replace the run's: the rows of its periods are deleted
    first (a period that lost every row must not keep stale ones, which delete+insert by key would), then
    appended. Without a range the table is rebuilt. -#}
{% macro billing_period_config() -%}
    {%- if billing_range_given() -%}
        {#- a column added by an upgrade is added to the kept periods' table too (null in their rows) -#}
        {{ return({'materialized': 'incremental', 'incremental_strategy': 'append',
                   'on_schema_change': 'append_new_columns',
                   'pre_hook': "{% if is_incremental() %}delete from {{ this }} where "
                               ~ in_billing_range('billing_period') ~ "{% endif %}"}) }}
    {%- else -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
{%- endmacro %}

{#- Money on an invoice: rounded half-up (ties away from zero, as decimal's ROUND_HALF_UP) to the
    currency's minor unit, stored as DECIMAL(18, 2). DuckDB rounds a DECIMAL exactly, but only to a constant
    scale, hence one branch per scale: var currency_minor_units lists the currencies without cents (0 or 1
    decimals; a currency of 3 decimals would need a wider amount column, and none is billed yet). -#}
{% macro round_money(amount, currency) -%}
    {%- set odd = var('currency_minor_units', {}) -%}
    {%- if odd %}
    case {{ currency }}
        {%- for code, digits in odd.items() %}
        when '{{ code }}' then cast(round({{ amount }}, {{ digits }}) as decimal(18, 2))
        {%- endfor %}
        else cast(round({{ amount }}, 2) as decimal(18, 2))
    end
    {%- else -%}
    cast(round({{ amount }}, 2) as decimal(18, 2))
    {%- endif %}
{%- endmacro %}

{#- A per-call amount: 6 decimals, half-up (docs/billing.md). -#}
{% macro round_call_amount(amount) -%}
    cast(round({{ amount }}, 6) as decimal(18, 6))
{%- endmacro %}

{#- The stable invoice number of an account's period: INV-<YYYYMM>-<account_id> (billing_ids.py says the same). -#}
{% macro invoice_number(account_id, billing_period) -%}
    ('INV-' || strftime({{ billing_period }}, '%Y%m') || '-' || {{ account_id }})
{%- endmacro %}

{#- Days of [from, to) (dates, `to` exclusive) that fall inside [lo, hi): the proration numerator. -#}
{% macro overlap_days(from_date, to_date, lo, hi) -%}
    greatest(0, date_diff('day', greatest({{ from_date }}, {{ lo }}), least({{ to_date }}, {{ hi }})))
{%- endmacro %}

{#- `amount / divisor` (a DECIMAL over a positive integer, which DuckDB would divide as a double) exactly,
    rounded half-up to 6 decimals. -#}
{% macro divide_to_call_amount(amount, divisor) -%}
    {#- widened first: an INTEGER amount times 10^8 overflows from 22 on -#}
    {{ round_by_method('cast(cast(' ~ amount ~ ' as decimal(38, 10)) * 100000000 as hugeint)',
                       'cast(' ~ divisor ~ ' as hugeint) * 100',
                       "'half_up'", 'cast(0.000001 as decimal(18, 6))') }}
{%- endmacro %}

{#- A decimal as people write it: no trailing zeros (10.0000 -> 10, 0.0450 -> 0.045). -#}
{% macro plain_number(value) -%}
    rtrim(rtrim(cast({{ value }} as varchar), '0'), '.')
{%- endmacro %}

{#- A billing mart: a closed period's rows from the archive (as frozen at its close, never rebuilt), an
    open period's as the last billing run drafted them, with `status` closed | draft. -#}
{% macro frozen_or_drafted(archive_table, drafted_model) -%}
with closed_periods as (
    select billing_period from {{ ref('int_period_statuses_derived') }} where is_closed
)

select 'closed' as status, * from {{ source('billing_closed', archive_table) }}
where billing_period in (select billing_period from closed_periods)

union all by name

select 'draft' as status, * from {{ ref(drafted_model) }}
where billing_period not in (select billing_period from closed_periods)
{%- endmacro %}
