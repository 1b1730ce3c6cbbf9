-- Revenue-assurance KPIs per period under assurance and currency, and in the reporting currency (var
-- reporting_currency, at the FX rate of the period's last day): billed and expected revenue, leakage found
-- (under-billing, over-billing, cost, collection), leakage as % of billed revenue, the recoverable share,
-- and the CDR-to-bill match rate. Recovered % and days to recovery come from the cases analysts work
-- (orchestration/assurance/cases.py), outside the warehouse; `tollhouse report leakage` joins them.
with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

revenue as (
    select billing_period, currency, sum(expected) as expected_revenue, sum(billed) as billed_revenue,
           sum(invoiced_total) as invoiced_total, sum(collected) as collected,
           sum(expected_calls) as expected_calls, sum(matched_calls) as matched_calls
    from {{ ref('rpt_revenue_reconciliation') }}
    group by billing_period, currency
),

leakage as (
    select
        billing_period,
        currency,
        count(*) as findings,
        coalesce(sum(leakage_amount) filter (where direction = 'under_billing'), 0) as under_billing,
        coalesce(sum(leakage_amount) filter (where direction = 'over_billing'), 0) as over_billing,
        coalesce(sum(leakage_amount) filter (where direction = 'cost'), 0) as cost_leakage,
        coalesce(sum(leakage_amount) filter (where direction = 'collection'), 0) as collection_leakage,
        coalesce(sum(leakage_amount) filter (where is_recoverable), 0) as recoverable
    from {{ ref('fct_leakage_findings') }}
    where currency is not null
    group by billing_period, currency
),

joined as (
    select
        revenue.billing_period,
        revenue.currency,
        revenue.expected_revenue,
        revenue.billed_revenue,
        revenue.invoiced_total,
        revenue.collected,
        coalesce(leakage.findings, 0) as findings,
        coalesce(leakage.under_billing, 0) as under_billing,
        coalesce(leakage.over_billing, 0) as over_billing,
        coalesce(leakage.cost_leakage, 0) as cost_leakage,
        coalesce(leakage.collection_leakage, 0) as collection_leakage,
        coalesce(leakage.recoverable, 0) as recoverable,
        revenue.expected_calls,
        revenue.matched_calls,
        case when revenue.currency = '{{ var("reporting_currency") }}' then 1 else fx.rate end as fx_rate
    from revenue
    inner join periods using (billing_period)
    left join leakage using (billing_period, currency)
    left join {{ ref('int_fx_rates_carried_forward') }} as fx
        on fx.base_currency = revenue.currency and fx.quote_currency = '{{ var("reporting_currency") }}'
        and fx.rate_day = cast(revenue.billing_period + interval 1 month - interval 1 day as date)
)

select
    *,
    round(100 * under_billing / nullif(billed_revenue, 0), 4) as leakage_pct_of_billed,
    round(100 * recoverable / nullif(under_billing + collection_leakage, 0), 2) as recoverable_pct,
    round(100 * matched_calls / nullif(expected_calls, 0), 4) as match_rate_pct,
    '{{ var("reporting_currency") }}' as reporting_currency,
    cast(billed_revenue * fx_rate as decimal(18, 2)) as billed_revenue_reporting,
    cast(under_billing * fx_rate as decimal(18, 2)) as under_billing_reporting,
    cast(over_billing * fx_rate as decimal(18, 2)) as over_billing_reporting,
    cast(cost_leakage * fx_rate as decimal(18, 2)) as cost_leakage_reporting,
    cast(collection_leakage * fx_rate as decimal(18, 2)) as collection_leakage_reporting
from joined
