-- Every rating request priced to the exact decimal (DESIGN.md section 5), with what priced it: plan,
-- matched prefix, and the pieces (band, slot, rate version, seconds billed), so any charge can be
-- explained in a dispute. Unrated requests keep a reason and no cost, never a cost of zero.
--
-- 1. Destination: the longest prefix of the number among the plan's rates valid at the call's start
--    (in the plan's zone). The number's first L digits are compared with the plan's prefixes of length
--    L, for each length the plan has: equality joins only.
-- 2. Bands: `split` cuts the call where it crosses from one band interval into the next (calendar in
--    int_tariff_band_calendar); `start` prices the whole call in the band it was answered in; rates with
--    band `*` apply at all times.
-- 3. Slots cut it again by elapsed seconds. Each piece is billed in whole increments of its slot, rounded
--    up; the round-up past a piece's end is consumed from the next ones. With p the seconds billed so
--    far, a piece [a, b) bills ceil((b - p) / increment) * increment when p < b, else nothing.
-- 4. Cost = sum(billed * rate / rate_unit) + the first slot's connect fee (when billable > 0), capped at
--    max_cost, rounded once. Summed exactly as a numerator over the plan's price_denominator.
{{ config(materialized='table') }}

with recursive requests as (
    select * from {{ ref('int_rating_requests') }}
),

plans as (
    select * from {{ ref('int_tariff_plans') }}
),

rates as (
    select * from {{ ref('int_tariff_rates') }}
),

priced as (
    select
        requests.*,
        plans.currency,
        plans.band_mode,
        plans.rounding_method,
        plans.rounding_decimals,
        plans.minor_unit,
        plans.price_denominator,
        {{ utc_to_local('plans.timezone', 'requests.answer_at') }} as answer_local
    from requests
    inner join plans using (deck, rate_plan_id)
    where requests.request_error is null
),

prefix_lengths as (
    select distinct deck, rate_plan_id, prefix_length from rates
),

prefix_versions as (
    select distinct deck, rate_plan_id, prefix, prefix_length, valid_from, valid_until from rates
),

matches as (
    select
        priced.call_id,
        priced.deck,
        arg_max(versions.prefix, versions.prefix_length) as matched_prefix
    from priced
    inner join prefix_lengths as lengths using (deck, rate_plan_id)
    inner join prefix_versions as versions
        on versions.deck = priced.deck and versions.rate_plan_id = priced.rate_plan_id
        and versions.prefix_length = lengths.prefix_length
        and versions.prefix = left(priced.b_number, lengths.prefix_length)
        and priced.answer_local >= versions.valid_from and priced.answer_local < versions.valid_until
    group by priced.call_id, priced.deck
),

slots as (
    -- the matched prefix's rows valid at the start: each band's rows may change on their own dates
    select matches.call_id, matches.deck, rates.* exclude (deck)
    from matches
    inner join priced using (call_id, deck)
    inner join rates
        on rates.deck = matches.deck and rates.rate_plan_id = priced.rate_plan_id
        and rates.prefix = matches.matched_prefix
        and priced.answer_local >= rates.valid_from and priced.answer_local < rates.valid_until
),

matched as (
    select
        priced.*,
        matches.matched_prefix,
        (select bool_or(slots.band = '*') from slots
         where slots.call_id = priced.call_id and slots.deck = priced.deck) as all_times
    from priced
    inner join matches using (call_id, deck)
),

answered_in as (
    select matched.*, calendar.band as answer_band, calendar.interval_no as first_interval
    from matched
    asof left join {{ ref('int_tariff_band_calendar') }} as calendar
        on calendar.deck = matched.deck and calendar.rate_plan_id = matched.rate_plan_id
        and matched.answer_at >= calendar.from_at
),

ended_in as (
    select answered_in.*, calendar.interval_no as last_interval
    from answered_in
    asof left join {{ ref('int_tariff_band_calendar') }} as calendar
        on calendar.deck = answered_in.deck and calendar.rate_plan_id = answered_in.rate_plan_id
        and answered_in.answer_at + {{ seconds('greatest(answered_in.billable_seconds, 1) - 1') }}
            >= calendar.from_at
),

band_pieces as (
    -- the whole call in one band: all-times rates, band_mode start, or a call inside one interval
    select call_id, deck, case when all_times then '*' else answer_band end as band,
        0 as from_s, billable_seconds as to_s
    from ended_in
    where billable_seconds > 0 and (all_times or band_mode = 'start' or first_interval = last_interval)
    union all
    -- split where the call crosses into the next band interval
    select crossing.call_id, crossing.deck, calendar.band,
        cast(greatest({{ epoch_seconds('calendar.from_at') }} - {{ epoch_seconds('crossing.answer_at') }}, 0)
            as integer),
        cast(least({{ epoch_seconds('calendar.to_at') }} - {{ epoch_seconds('crossing.answer_at') }},
            crossing.billable_seconds) as integer)
    from (
        select *, unnest(range(first_interval, last_interval + 1)) as interval_no
        from ended_in
        where billable_seconds > 0 and not all_times and band_mode = 'split' and first_interval < last_interval
    ) as crossing
    inner join {{ ref('int_tariff_band_calendar') }} as calendar
        using (deck, rate_plan_id, interval_no)
),

pieces as (
    -- band pieces cut by slot starts; numbered in call order
    select
        *,
        row_number() over (partition by call_id, deck order by from_s) as piece_no,
        count(*) over (partition by call_id, deck) as piece_count
    from (
        select
            band_pieces.call_id, band_pieces.deck, band_pieces.band,
            greatest(band_pieces.from_s, slots.group_start_s) as from_s,
            least(band_pieces.to_s, coalesce(slots.slot_end_s, band_pieces.to_s)) as to_s,
            slots.group_start_s, slots.increment_s, slots.rate, slots.rate_unit_s, slots.valid_from
        from band_pieces
        inner join slots
            on slots.call_id = band_pieces.call_id and slots.deck = band_pieces.deck and slots.band = band_pieces.band
        where band_pieces.from_s < coalesce(slots.slot_end_s, band_pieces.to_s)
            and slots.group_start_s < band_pieces.to_s
    ) as cut
),

billing as (
    -- seconds billed so far (`position`) carried piece by piece
    select call_id, deck, piece_no, piece_count,
        cast((to_s + increment_s - 1) // increment_s * increment_s as integer) as billed_s,
        cast((to_s + increment_s - 1) // increment_s * increment_s as integer) as position
    from pieces
    where piece_no = 1
    union all
    select pieces.call_id, pieces.deck, pieces.piece_no, pieces.piece_count,
        cast(case when billing.position >= pieces.to_s then 0
            else (pieces.to_s - billing.position + pieces.increment_s - 1) // pieces.increment_s * pieces.increment_s
        end as integer),
        cast(case when billing.position >= pieces.to_s then billing.position
            else billing.position
                + (pieces.to_s - billing.position + pieces.increment_s - 1) // pieces.increment_s * pieces.increment_s
        end as integer)
    from billing
    inner join pieces
        on pieces.call_id = billing.call_id and pieces.deck = billing.deck and pieces.piece_no = billing.piece_no + 1
),

billed_pieces as (
    select pieces.*, billing.billed_s, matched.price_denominator
    from pieces
    inner join billing using (call_id, deck, piece_no)
    inner join matched using (call_id, deck)
),

usage as (
    select
        call_id,
        deck,
        sum(cast(rate as decimal(38, 8)) * (billed_s * (price_denominator // rate_unit_s))) as usage_numerator,
        cast(sum(billed_s) as integer) as billed_seconds,
        list(
            {'band': band, 'from_s': from_s, 'to_s': to_s, 'slot_start_s': group_start_s,
             'increment_s': increment_s, 'rate': rate, 'rate_unit_s': rate_unit_s, 'rate_valid_from': valid_from,
             'billed_s': billed_s}
            order by piece_no
        ) as pieces
    from billed_pieces
    group by call_id, deck
),

first_slot as (
    -- the connect fee and the cap come from the first slot of the band the call was answered in
    select slots.call_id, slots.deck, slots.connect_fee, slots.max_cost, slots.destination
    from slots
    inner join answered_in using (call_id, deck)
    where slots.group_start_s = 0 and slots.band = case when answered_in.all_times then '*' else answered_in.answer_band end
),

totals as (
    select
        matched.*,
        first_slot.destination,
        usage.billed_seconds,
        usage.pieces,
        -- a call with no billable seconds costs nothing: no connect fee
        case when matched.billable_seconds > 0 then
            coalesce(usage.usage_numerator, 0)
            + cast(first_slot.connect_fee as decimal(38, 8)) * matched.price_denominator
        else 0 end as uncapped_numerator,
        cast(first_slot.max_cost as decimal(38, 8)) * matched.price_denominator as cap_numerator
    from ended_in as matched
    inner join first_slot using (call_id, deck)
    left join usage using (call_id, deck)
),

rounded as (
    select
        *,
        cast(least(uncapped_numerator, coalesce(cap_numerator, uncapped_numerator)) * 100000000 as hugeint)
            as numerator_units,
        cast(price_denominator as hugeint) * cast(10 ** (8 - rounding_decimals) as hugeint) as denominator_units
    from totals
),

costs as (
    select
        *,
        cast(
            cast(
                numerator_units // denominator_units
                + case rounding_method
                    when 'up' then case when numerator_units % denominator_units > 0 then 1 else 0 end
                    when 'half_up' then case when 2 * (numerator_units % denominator_units) >= denominator_units then 1 else 0 end
                    else 0
                end
            as decimal(38, 0)) * minor_unit
        as decimal(18, 6)) as cost
    from rounded
)

select
    requests.call_id,
    requests.deck,
    requests.rate_plan_id,
    requests.account_id,
    requests.b_number,
    requests.answer_at,
    requests.billable_seconds,
    plans.currency,
    costs.matched_prefix,
    costs.destination,
    costs.answer_band,
    costs.billed_seconds,
    costs.pieces,
    costs.rounding_decimals,
    costs.cost,
    case
        when requests.request_error is not null then requests.request_error
        when plans.rate_plan_id is null
            and (requests.deck, requests.rate_plan_id) in (select (deck, rate_plan_id) from {{ ref('int_tariff_errors') }})
            then 'invalid_rate_plan'
        when plans.rate_plan_id is null then 'unknown_rate_plan'
        when costs.call_id is null and matches.call_id is null then 'unknown_destination'
        when costs.call_id is null then 'no_rate_for_band'
    end as rating_error
from requests
left join plans using (deck, rate_plan_id)
left join matches using (call_id, deck)
left join costs using (call_id, deck)
