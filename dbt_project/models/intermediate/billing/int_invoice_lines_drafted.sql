-- The invoice lines of every account and billing period the run bills (docs/billing.md), in the
-- account's currency, each rounded once to the currency's minor unit (half-up):
--   recurring, bundle  one per subscription, prorated by day (int_subscriptions_charged)
--   one_time           one per subscription activated in the period
--   usage              one per call type and destination: the sum of its calls' charges (int_calls_billed)
--   tier               one per volume tier reached (int_volume_tiers_charged)
--   adjustment         one per late or changed call of a closed period (int_closed_period_calls_adjusted): the
--                      difference between its charge now and what closed invoices charged for it
--   discount           one per promotion (int_discounts_applied), negative
--   tax                one per tax of the account's jurisdiction valid on the period's last day: the rate
--                      times the sum of the lines of the charge types it taxes, rounded per tax line
-- Totals are sums of rounded lines (int_invoices_drafted), so they add up exactly. These are drafts:
-- a closed period's invoices are read from the archive (fct_invoice_lines).
{{ config(**billing_period_config()) }}

with periods as (
    select * from {{ ref('int_billing_periods_bounded') }}
    where {{ in_billing_range('billing_period') }}
),

subscription_lines as (
    select
        account_id, billing_period,
        charge_type as line_type,
        charge_type,
        product_name
            || case when charge_type = 'one_time' then ' (activated ' || strftime(start_date, '%Y-%m-%d') || ')'
                when active_days < days_in_period then ' (' || active_days || ' of ' || days_in_period || ' days)'
                else '' end as description,
        subscription_id as reference,
        cast(quantity as decimal(18, 6)) as quantity,
        unit,
        unit_price,
        {{ round_money('amount', 'currency') }} as amount,
        cast(null as date) as original_period,
        currency
    from {{ ref('int_subscriptions_charged') }}
    where {{ in_billing_range('billing_period') }}
),

usage_lines as (
    select
        account_id, billing_period,
        'usage' as line_type,
        'usage' as charge_type,
        coalesce(destination, destination_country, 'Other') || ' (' || replace(call_type, '_', ' ') || '), '
            || count(*) || ' calls'
            || case when sum(covered_seconds) > 0
                then ', ' || sum(covered_seconds) // 60 || ' min in bundle' else '' end as description,
        cast(null as varchar) as reference,
        {{ divide_to_call_amount('sum(billed_seconds - covered_seconds)', 60) }} as quantity,
        'minutes' as unit,
        cast(null as decimal(18, 6)) as unit_price,
        {{ round_money('sum(charge)', 'currency') }} as amount,
        cast(null as date) as original_period,
        currency
    from {{ ref('int_calls_billed') }}
    where {{ in_billing_range('billing_period') }} and not is_tiered
    group by account_id, billing_period, currency, call_type, destination, destination_country
),

tier_lines as (
    select
        account_id, billing_period,
        'tier' as line_type,
        'usage' as charge_type,
        'Tiered ' || replace(call_type, '_', ' ') || ' minutes ' || cast(tier_from_units as bigint) || '-'
            || coalesce(cast(cast(tier_to_units as bigint) as varchar), '') || ' (' || tier_mode || ' tiers)'
            as description,
        tier_plan_id as reference,
        minutes as quantity,
        'minutes' as unit,
        unit_price,
        {{ round_money('charge', 'currency') }} as amount,
        cast(null as date) as original_period,
        currency
    from {{ ref('int_volume_tiers_charged') }}
    where {{ in_billing_range('billing_period') }}
),

adjustment_lines as (
    select
        account_id, billing_period,
        'adjustment' as line_type,
        'usage' as charge_type,
        case when billed_charge is null then 'Late call of ' else 'Change to a call of ' end
            || strftime(original_period, '%Y-%m') || coalesce(' billed on ' || original_invoice, '') || ': '
            || coalesce(destination, 'Other') || ', answered ' || strftime(answer_at, '%Y-%m-%d %H:%M') || ' UTC'
            || case when billed_charge is null then ''
                else ', ' || coalesce(billed_seconds_before, 0) || ' s billed, now ' || billed_seconds || ' s' end
            as description,
        call_id as reference,
        -- the minutes billed now less those billed before (negative when the call became shorter)
        cast(sign(billed_seconds - coalesce(billed_seconds_before, 0))
            * {{ divide_to_call_amount('abs(billed_seconds - coalesce(billed_seconds_before, 0))', 60) }}
            as decimal(18, 6)) as quantity,
        'minutes' as unit,
        cast(null as decimal(18, 6)) as unit_price,
        {{ round_money('charge', 'currency') }} as amount,
        original_period,
        currency
    from {{ ref('int_closed_period_calls_adjusted') }}
    where {{ in_billing_range('billing_period') }}
),

discount_lines as (
    select
        account_id, billing_period,
        'discount' as line_type,
        charge_type,
        'Promotion ' || promotion_id || ': ' || {{ plain_number('discount_percent') }} || '% off '
            || replace(charge_type, '_', ' ') || ' charges'
            || case when valid_to is not null then ' until ' || strftime(valid_to - 1, '%Y-%m-%d') else '' end
            as description,
        promotion_id as reference,
        cast(null as decimal(18, 6)) as quantity,
        cast(null as varchar) as unit,
        cast(null as decimal(18, 6)) as unit_price,
        -{{ round_money('base * discount_percent * 0.01', 'periods.currency') }} as amount,
        cast(null as date) as original_period,
        periods.currency
    from {{ ref('int_discounts_applied') }} as discounts
    inner join periods using (account_id, billing_period)
),

charges as materialized (  -- read by the lines and by the tax lines: computed once
    select * from subscription_lines
    union all by name select * from usage_lines
    union all by name select * from tier_lines
    union all by name select * from adjustment_lines
    union all by name select * from discount_lines
),

tax_rules as (
    select periods.account_id, periods.billing_period, periods.currency, rules.tax_name, rules.tax_rate,
        rules.charge_type
    from periods
    inner join {{ ref('stg_tax__rules') }} as rules
        on rules.jurisdiction = periods.jurisdiction
        and rules.valid_from <= periods.period_end_date
        and coalesce(rules.valid_to, periods.next_period) > periods.period_end_date
),

tax_lines as (
    select
        tax_rules.account_id, tax_rules.billing_period,
        'tax' as line_type,
        string_agg(distinct tax_rules.charge_type, ',' order by tax_rules.charge_type) as charge_type,
        tax_rules.tax_name || ' ' || {{ plain_number('tax_rules.tax_rate * 100') }} || '% on '
            || sum(charges.amount) as description,
        cast(null as varchar) as reference,
        cast(sum(charges.amount) as decimal(18, 6)) as quantity,
        'base' as unit,
        cast(tax_rules.tax_rate as decimal(18, 6)) as unit_price,
        {{ round_money('sum(charges.amount) * tax_rules.tax_rate', 'tax_rules.currency') }} as amount,
        cast(null as date) as original_period,
        tax_rules.currency,
        tax_rules.tax_name,
        tax_rules.tax_rate
    from tax_rules
    inner join charges
        on charges.account_id = tax_rules.account_id and charges.billing_period = tax_rules.billing_period
        and charges.charge_type = tax_rules.charge_type
    group by tax_rules.account_id, tax_rules.billing_period, tax_rules.currency, tax_rules.tax_name,
        tax_rules.tax_rate
),

lines as (
    select *, cast(null as varchar) as tax_name, cast(null as decimal(9, 6)) as tax_rate from charges
    union all by name
    select * from tax_lines
)

select
    {{ invoice_number('lines.account_id', 'lines.billing_period') }} as invoice_number,
    lines.account_id,
    lines.billing_period,
    cast(row_number() over (
        partition by lines.account_id, lines.billing_period
        order by
            case lines.line_type when 'recurring' then 1 when 'bundle' then 2 when 'one_time' then 3
                when 'usage' then 4 when 'tier' then 5 when 'adjustment' then 6 when 'discount' then 7 else 8 end,
            lines.description, lines.reference
    ) as integer) as line_no,
    lines.line_type,
    lines.charge_type,
    lines.description,
    lines.reference,
    lines.quantity,
    lines.unit,
    lines.unit_price,
    lines.amount,
    lines.currency,
    lines.tax_name,
    lines.tax_rate,
    lines.original_period
from lines
