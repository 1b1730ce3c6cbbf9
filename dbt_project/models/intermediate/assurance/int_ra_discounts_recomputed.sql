-- RA-26 Discount recomputation: every billing-system invoice's discount lines (line_type 'discount',
-- product_id naming the promotion) against the catalogue's promotions re-computed from the invoice's own
-- lines, by the rules of docs/billing.md: a promotion of the invoice's account valid in the period takes its
-- percentage of the lines of its charge type for the days it is valid (recurring and bundle lines pro rata the
-- days both the subscription, CRM dates, and the promotion are active over the days the line charges; one-time
-- lines whose subscription starts while it is valid; usage lines of calls answered, local date, while it is
-- valid), summed at 6 decimals and rounded once. One comparison per invoice and promotion (billed or due):
--   discount_over_applied: billed above the recomputation, incl. a promotion not the account's or not valid
--     in the period (recomputed 0): under-billing, the excess;
--   discount_not_applied (no line) / discount_under_applied: billed below it: over-billing, the shortfall.
-- Tolerance: one minor unit (the rounding of one line). RA-22 ties the header to the lines as they are,
-- discount lines included; RA-26 judges only the discount lines, so one difference is valued once.
{{ config(materialized='table') }}

with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

invoices as (
    select
        invoices.invoice_number, invoices.account_id, invoices.billing_period, invoices.currency,
        invoices.billing_period + interval 1 month as next_period
    from {{ ref('stg_billing_export__invoices') }} as invoices
    inner join periods using (billing_period)
),

promotions as (
    select * from {{ ref('stg_catalog__promotions') }}
),

-- the catalogue's promotions of each invoice's account valid some day of its period
due as (
    select
        invoices.invoice_number, promotions.promotion_id, promotions.charge_type, promotions.discount_percent,
        promotions.valid_from, coalesce(promotions.valid_to, cast(invoices.next_period as date)) as valid_to,
        promotions.valid_from <= invoices.billing_period
            and coalesce(promotions.valid_to, cast(invoices.next_period as date)) >= invoices.next_period
            as whole_period
    from invoices
    inner join promotions
        on promotions.account_id = invoices.account_id
        and promotions.valid_from < invoices.next_period
        and coalesce(promotions.valid_to, cast(invoices.next_period as date)) > invoices.billing_period
),

lines as (
    select lines.*, invoices.billing_period as period_start, cast(invoices.next_period as date) as period_end
    from {{ ref('stg_billing_export__invoice_lines') }} as lines
    inner join invoices using (invoice_number)
),

subscription_bases as (
    select
        due.invoice_number, due.promotion_id,
        case
            when lines.line_type = 'one_time' then
                case when subs.start_date >= due.valid_from and subs.start_date < due.valid_to
                    then lines.amount else 0 end
            when due.whole_period then lines.amount
            -- the days the line charges (CRM dates, the whole period when they leave none) and those of them
            -- the promotion is valid
            else {{ divide_to_call_amount(
                'lines.amount * ' ~ overlap_days('greatest(covered.first_day, due.valid_from)',
                                                 'least(covered.last_day, due.valid_to)',
                                                 'lines.period_start', 'lines.period_end'),
                'date_diff(\'day\', covered.first_day, covered.last_day)') }}
        end as base
    from due
    inner join lines on lines.invoice_number = due.invoice_number and lines.line_type = due.charge_type
    left join {{ ref('stg_crm__subscriptions') }} as subs using (subscription_id)
    cross join lateral (
        select
            case when active.first_day < active.last_day then active.first_day else lines.period_start end
                as first_day,
            case when active.first_day < active.last_day then active.last_day else lines.period_end end
                as last_day
        from (select
                  greatest(coalesce(subs.start_date, lines.period_start), lines.period_start) as first_day,
                  least(coalesce(subs.end_date, lines.period_end), lines.period_end) as last_day) as active
    ) as covered
    where lines.line_type in ('recurring', 'bundle', 'one_time')
),

calls as (
    select source, record_key, account_id, any_value(local_day) as local_day
    from {{ ref('int_ra_calls_expected') }}
    group by all
),

usage_bases as (
    select due.invoice_number, due.promotion_id, lines.amount as base
    from due
    inner join lines on lines.invoice_number = due.invoice_number and lines.line_type = 'usage'
    left join calls
        on not due.whole_period
        and calls.source = lines.source and calls.record_key = lines.record_key
        and calls.account_id = lines.account_id
    where due.charge_type = 'usage'
        and (due.whole_period
             or (calls.local_day >= due.valid_from and calls.local_day < due.valid_to))
),

recomputed as (
    select
        due.invoice_number, due.promotion_id, due.charge_type, due.discount_percent,
        coalesce(sum(bases.base), 0) as base,
        {{ round_money('coalesce(sum(bases.base), 0) * due.discount_percent * 0.01', 'any_value(invoices.currency)') }}
            as discount
    from due
    inner join invoices using (invoice_number)
    left join (select * from subscription_bases union all select * from usage_bases) as bases
        on bases.invoice_number = due.invoice_number and bases.promotion_id = due.promotion_id
    group by due.invoice_number, due.promotion_id, due.charge_type, due.discount_percent
),

billed as (
    select invoice_number, product_id as promotion_id, -sum(amount) as discount, count(*) as billed_lines
    from lines
    where line_type = 'discount'
    group by all
),

compared as (
    select
        invoices.invoice_number, invoices.account_id, invoices.billing_period, invoices.currency,
        coalesce(recomputed.promotion_id, billed.promotion_id) as promotion_id,
        recomputed.charge_type,
        recomputed.discount_percent,
        recomputed.base,
        coalesce(recomputed.discount, 0) as expected_discount,
        coalesce(billed.discount, 0) as billed_discount,
        billed.promotion_id is not null as billed,
        recomputed.promotion_id is not null as due
    from recomputed
    full outer join billed
        on billed.invoice_number = recomputed.invoice_number and billed.promotion_id = recomputed.promotion_id
    inner join invoices on invoices.invoice_number = coalesce(recomputed.invoice_number, billed.invoice_number)
)

select
    {{ ra_finding('RA-26',
                  "case when billed_discount > expected_discount then 'discount_over_applied'
                        when not billed then 'discount_not_applied' else 'discount_under_applied' end",
                  'account_id', 'billing_period', 'currency', "invoice_number || '|' || promotion_id",
                  'expected_discount', 'billed_discount', 'abs(billed_discount - expected_discount)',
                  "case when billed_discount > expected_discount then 'under_billing' else 'over_billing' end",
                  '[]::varchar[]', '0',
                  "case when not due then 'discount ' || billed_discount || ' for ' || promotion_id
                            || ', not a promotion of the account valid in the period'
                        else 'billed ' || billed_discount || ', recomputed ' || expected_discount || ' ('
                            || rtrim(rtrim(cast(discount_percent as varchar), '0'), '.') || '% of ' || charge_type || ' ' || base || ')' end") }}
from compared
where abs(billed_discount - expected_discount) > 0.01  -- one minor unit: the rounding of one line
