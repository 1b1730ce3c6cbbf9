-- Every rated call with billable seconds, in the billing period of its account it was answered in
-- (docs/rating.md and docs/billing.md), and what the invoice charges for it:
-- 1. Free-minute bundles: an account's bundles of a call type pool their included seconds for the period
--    (prorated by the days the subscription is active in it, rounded down). Calls of that type consume them
--    in answer-time order, by billed seconds (the seconds rating billed, increments included). A call
--    wholly covered is charged nothing; the one call that uses up the rest is charged for its uncovered
--    tail only: the last billed seconds at the rates of the pieces they fall in, without the connect fee
--    (it belongs to the covered head), never more than the call's cost, rounded with its plan's method.
-- 2. Volume tiers: a call of a type an account's tier plan prices has no per-call charge; its uncovered
--    seconds count towards the tiers (int_volume_tiers_charged).
-- 3. FX: the charge in the plan's currency, converted to the account's at the rate of the period's last
--    day (the latest published on or before it), 6 decimals.
-- Replaces the run's billing periods and keeps the others (macros/billing.sql).
{{ config(**billing_period_config()) }}

with periods as (
    select * from {{ ref('int_billing_periods_bounded') }}
    where {{ in_billing_range('billing_period') }}
),

calls as (
    select
        rated.call_id,
        rated.account_id,
        periods.billing_period,
        rated.answer_at,
        rated.b_number,
        rated.destination,
        rated.destination_country,
        rated.call_type,
        rated.billable_seconds,
        rated.billed_seconds,
        rated.rate_plan_id,
        rated.currency as plan_currency,
        rated.cost,
        periods.currency,
        periods.period_end_date,
        periods.next_period,
        periods.days_in_period
    from {{ ref('int_calls_rated_for_billing') }} as rated
    inner join periods
        on periods.account_id = rated.account_id
        and rated.answer_at >= periods.period_start_at and rated.answer_at < periods.period_end_at
    where rated.billable_seconds > 0
        -- a late call a later closed month billed as an adjustment is not billed again when its own month
        -- is re-opened
        and rated.call_id not in (
            select call_id from {{ source('billing', 'closed_invoice_calls') }} where line_type = 'adjustment'
        )
),

allowances as (
    select
        subs.account_id,
        periods.billing_period,
        bundles.call_type,
        sum(
            bundles.included_seconds * subs.quantity
            * {{ overlap_days('subs.start_date', 'coalesce(subs.end_date, periods.next_period)',
                              'periods.billing_period', 'periods.next_period') }}
            // periods.days_in_period
        ) as included_seconds
    from {{ ref('stg_crm__subscriptions') }} as subs
    inner join {{ ref('stg_catalog__bundles') }} as bundles using (product_id)
    inner join periods
        on periods.account_id = subs.account_id
        and subs.start_date < periods.next_period
        and coalesce(subs.end_date, periods.next_period) > periods.billing_period
    group by all
),

tiered as (
    select distinct assigned.account_id, periods.billing_period, tiers.call_type
    from {{ ref('stg_catalog__tier_assignments') }} as assigned
    inner join {{ ref('stg_catalog__volume_tiers') }} as tiers using (tier_plan_id)
    inner join periods
        on periods.account_id = assigned.account_id
        and assigned.valid_from <= periods.period_end_date
        and coalesce(assigned.valid_to, periods.next_period) > periods.period_end_date
),

consumed as (
    -- calls of a bundled type, with the seconds billed before them in the period
    select
        calls.call_id,
        allowances.included_seconds,
        sum(calls.billed_seconds) over (
            partition by calls.account_id, calls.billing_period, calls.call_type
            order by calls.answer_at, calls.call_id
            rows between unbounded preceding and 1 preceding
        ) as billed_before
    from calls
    inner join allowances using (account_id, billing_period, call_type)
),

covered as (
    select
        calls.*,
        -- (least and greatest skip nulls: a call of a type no bundle covers must not take its own seconds)
        cast(case when consumed.call_id is null then 0 else greatest(0, least(calls.billed_seconds,
            consumed.included_seconds - coalesce(consumed.billed_before, 0))) end as integer) as covered_seconds,
        tiered.account_id is not null as is_tiered
    from calls
    left join consumed using (call_id)
    left join tiered using (account_id, billing_period, call_type)
),

tails as (
    -- the partly covered calls (one per bundle and period at most): the uncovered billed seconds taken
    -- from the end of the call, piece by piece, priced exactly over the plan's price denominator
    select
        pieced.call_id,
        {{ round_by_method(
            'cast(sum(pieced.tail_seconds * pieced.piece.rate * (plans.price_denominator // pieced.piece.rate_unit_s))'
            ~ ' * 100000000 as hugeint)',
            'cast(any_value(plans.price_denominator) as hugeint) * cast(10 ** (8 - any_value(plans.rounding_decimals)) as hugeint)',
            'any_value(plans.rounding_method)', 'any_value(plans.minor_unit)') }} as tail_cost
    from (
        -- piece i bills [billed_through - billed_s, billed_through) of the call's billed seconds; its tail
        -- is the part past the covered head [0, covered_seconds)
        select
            call_id,
            rate_plan_id,
            piece,
            greatest(0, billed_through - greatest(billed_through - piece.billed_s, covered_seconds)) as tail_seconds
        from (
            select
                call_id,
                rate_plan_id,
                covered_seconds,
                piece,
                list_sum(list_transform(pieces[1:i], p -> p.billed_s)) as billed_through
            from (
                -- the pieces of these few calls only: carrying every call's list through the window costs
                select partial.*, rated.pieces, unnest(rated.pieces) as piece, generate_subscripts(rated.pieces, 1) as i
                from covered as partial
                inner join {{ ref('int_calls_rated_for_billing') }} as rated using (call_id)
                where partial.covered_seconds > 0 and partial.covered_seconds < partial.billed_seconds
            )
        )
    ) as pieced
    inner join {{ ref('int_tariff_plans_validated') }} as plans
        on plans.deck = 'customer' and plans.rate_plan_id = pieced.rate_plan_id
    group by pieced.call_id
),

charged as (
    select
        covered.*,
        case
            when covered.is_tiered then null
            when covered.covered_seconds = 0 then covered.cost
            when covered.covered_seconds = covered.billed_seconds then cast(0 as decimal(18, 6))
            else least(tails.tail_cost, covered.cost)
        end as plan_charge
    from covered
    left join tails using (call_id)
)

select
    charged.call_id,
    charged.account_id,
    charged.billing_period,
    charged.answer_at,
    charged.b_number,
    charged.destination,
    charged.destination_country,
    charged.call_type,
    charged.billable_seconds,
    charged.billed_seconds,
    charged.covered_seconds,
    charged.is_tiered,
    charged.rate_plan_id,
    charged.plan_currency,
    charged.cost as plan_cost,
    charged.plan_charge,
    charged.currency,
    case when charged.plan_currency = charged.currency then charged.plan_charge
        else {{ round_call_amount('charged.plan_charge * fx.rate') }} end as charge,
    -- the whole rated cost in the account's currency: what a later change of the call is measured from
    -- once the period is closed (int_closed_period_calls_adjusted)
    case when charged.plan_currency = charged.currency then charged.cost
        else {{ round_call_amount('charged.cost * fx.rate') }} end as rated_charge
from charged
left join {{ ref('int_fx_rates_carried_forward') }} as fx
    on fx.rate_day = charged.period_end_date
    and fx.base_currency = charged.plan_currency and fx.quote_currency = charged.currency
