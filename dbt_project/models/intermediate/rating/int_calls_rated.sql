-- Every rating request priced to the exact decimal (docs/rating.md), with what priced it: plan,
-- matched prefix, and the pieces (band, slot, rate version, seconds billed), so any charge can be
-- explained in a dispute. Unrated requests keep a reason and no cost, never a cost of zero.
--
-- 1. Destination: the longest prefix of the number among the plan's rates valid at the call's start (in
--    the plan's zone), found in int_rating_requests_located.
-- 2. Bands: `split` cuts the call where it crosses from one band interval into the next (calendar in
--    int_tariff_bands_laid_out); `start` prices the whole call in the band it was answered in; rates with
--    band `*` apply at all times. Most calls stay in one band and join one rate card.
-- 3. Slots cut each band piece again by elapsed seconds (list functions on the card's slots). Each piece
--    is billed in whole increments of its slot, rounded up; the round-up past a piece's end is consumed
--    from the next ones. With p the seconds billed so far, a piece [a, b) bills
--    ceil((b - p) / increment) * increment when p < b, else nothing: a fold over the call's pieces.
--    A call in one band on a card of one or two slots (nearly all) needs no fold: two formulas price it
--    (`simple`), as list lambdas cost about a microsecond a call.
-- 4. Cost = sum(billed * rate / rate_unit) + the first slot's connect fee (when billable > 0), capped at
--    max_cost, rounded once. Summed exactly as a numerator over the plan's price_denominator.
-- Every request leaves as exactly one row: priced, or unrated with its reason (rating_conserves_every_call).
-- With delivery days given, the run's requests replace their calls' rows and the rest are kept
-- (int_rating_requests_selected says which calls a run prices).
{{ config(materialized=by_delivery_day(), incremental_strategy='delete+insert', unique_key=['call_id', 'deck']) }}

with plans as (
    select * from {{ ref('int_tariff_plans_validated') }}
),

calendar as (
    select * from {{ ref('int_tariff_bands_laid_out') }}
),

cards as (
    select * from {{ ref('int_tariff_rate_cards_assembled') }}
),

one_band as (
    -- the whole call in one band (most calls): all-times rates, band_mode start, or a call inside one
    -- interval; one card, no grouping
    select
        located.* exclude (crosses),
        case when located.all_times then '*' else located.answer_band end as band,
        0 as from_s,
        located.billable_seconds as to_s
    from {{ ref('int_rating_requests_located') }} as located
    where located.prefix_no is not null and not located.crosses
),

simple as (
    -- ... on a card of one or two slots (nearly every call): priced with plain arithmetic. The first
    -- piece [0, min(d, slot 2 start)) bills b1 = ceil(to / inc1) * inc1; the second [slot 2 start, d), when
    -- the call reaches it, bills nothing if b1 already covers d, else ceil((d - b1) / inc2) * inc2.
    select
        one_band.* exclude (band, from_s, to_s),
        false as no_card,
        cards.destination,
        cards.first_slot,
        cards.slots[1] as s1,
        cards.slots[2] as s2,
        least(one_band.billable_seconds, coalesce(cards.slots[1].slot_end_s, one_band.billable_seconds)) as to1,
        {{ carried_bill('0', 'to1', 'cards.slots[1].increment_s') }} as b1,
        case when cards.slots[2].slot_start_s < one_band.billable_seconds then
            {{ carried_bill('b1', 'one_band.billable_seconds', 'cards.slots[2].increment_s') }}
        end as b2,
        one_band.band
    from one_band
    inner join cards on cards.prefix_no = one_band.prefix_no and cards.band = one_band.band
    where len(cards.slots) <= 2
),

simple_billed as (
    select
        simple.* exclude (s1, s2, to1, b1, b2, band),
        cast(simple.b1 + coalesce(simple.b2, 0) as integer) as position,
        simple.s1.rate * (simple.s1.unit_factor * simple.b1)
            + coalesce(simple.s2.rate * (simple.s2.unit_factor * simple.b2), 0) as numerator,
        case
            when simple.billable_seconds = 0 then []
            when simple.b2 is null then [
                {'band': simple.band, 'from_s': 0, 'to_s': simple.to1, 'slot_start_s': 0,
                 'increment_s': simple.s1.increment_s, 'rate': simple.s1.rate, 'rate_unit_s': simple.s1.rate_unit_s,
                 'rate_valid_from': simple.s1.rate_valid_from, 'billed_s': simple.b1}]
            else [
                {'band': simple.band, 'from_s': 0, 'to_s': simple.to1, 'slot_start_s': 0,
                 'increment_s': simple.s1.increment_s, 'rate': simple.s1.rate, 'rate_unit_s': simple.s1.rate_unit_s,
                 'rate_valid_from': simple.s1.rate_valid_from, 'billed_s': simple.b1},
                {'band': simple.band, 'from_s': simple.s2.slot_start_s, 'to_s': simple.billable_seconds,
                 'slot_start_s': simple.s2.slot_start_s, 'increment_s': simple.s2.increment_s, 'rate': simple.s2.rate,
                 'rate_unit_s': simple.s2.rate_unit_s, 'rate_valid_from': simple.s2.rate_valid_from,
                 'billed_s': simple.b2}]
        end as pieces
    from simple
),

whole as (
    -- ... on a card of more slots, or with no card for its band
    select
        one_band.* exclude (band, from_s, to_s),
        cards.prefix_no is null as no_card,
        cards.destination,
        cards.first_slot,
        {{ slot_pieces('one_band') }} as pieces
    from one_band
    left join cards on cards.prefix_no = one_band.prefix_no and cards.band = one_band.band
    where cards.prefix_no is null or len(cards.slots) > 2
),

crossing_pieces as (
    -- a call split where it crosses into the next band interval, up to the one its last second is in
    select crossing.* exclude (interval_no), calendar.band,
        cast(greatest({{ epoch_seconds('calendar.from_at') }} - {{ epoch_seconds('crossing.answer_at') }}, 0)
            as integer) as from_s,
        cast(least({{ epoch_seconds('calendar.to_at') }} - {{ epoch_seconds('crossing.answer_at') }},
            crossing.billable_seconds) as integer) as to_s
    from (
        select located.* exclude (crosses), unnest(range(located.first_interval, ended.interval_no + 1)) as interval_no
        from {{ ref('int_rating_requests_located') }} as located
        asof inner join calendar as ended
            on ended.plan_no = located.plan_no
            and located.answer_at + {{ seconds('located.billable_seconds - 1') }} >= ended.from_at
        where located.crosses
    ) as crossing
    inner join calendar using (plan_no, interval_no)
),

crossing as (
    -- its band pieces' slot pieces in call order; the connect fee, cap and destination come from the band
    -- it was answered in
    select
        any_value(columns(crossing_pieces.* exclude (band, from_s, to_s))),
        bool_or(cards.prefix_no is null) as no_card,
        arg_min(cards.destination, crossing_pieces.from_s) as destination,
        arg_min(cards.first_slot, crossing_pieces.from_s) as first_slot,
        flatten(list({{ slot_pieces('crossing_pieces') }} order by crossing_pieces.from_s)) as pieces
    from crossing_pieces
    left join cards on cards.prefix_no = crossing_pieces.prefix_no and cards.band = crossing_pieces.band
    group by crossing_pieces.request_no
),

call_pieces as (
    select * from whole
    union all by name
    select * from crossing
),

folded as (
    -- the general path: a fold over the pieces in order with the seconds billed so far
    select
        call_pieces.* exclude (pieces),
        list_reduce(
            pieces,
            (bill, piece) -> {
                'position': bill.position + {{ carried_bill('bill.position', 'piece.to_s', 'piece.increment_s') }},
                'numerator': bill.numerator
                    + piece.rate * (piece.unit_factor * {{ carried_bill('bill.position', 'piece.to_s', 'piece.increment_s') }}),
                'billed_s': list_append(bill.billed_s,
                    {{ carried_bill('bill.position', 'piece.to_s', 'piece.increment_s') }})
            },
            {'position': 0, 'numerator': cast(0 as decimal(38, 8)), 'billed_s': cast([] as integer[])}
        ) as bill,
        pieces
    from call_pieces
),

billed as (
    select
        folded.* exclude (bill, pieces),
        cast(folded.bill.position as integer) as position,
        folded.bill.numerator as numerator,
        list_transform(folded.pieces, (piece, i) -> {
            'band': piece.band, 'from_s': piece.from_s, 'to_s': piece.to_s, 'slot_start_s': piece.slot_start_s,
            'increment_s': piece.increment_s, 'rate': piece.rate, 'rate_unit_s': piece.rate_unit_s,
            'rate_valid_from': piece.rate_valid_from, 'billed_s': folded.bill.billed_s[i]}) as pieces
    from folded
    union all by name
    select * from simple_billed
),

priced as (
    select
        billed.*,
        plans.currency,
        plans.rounding_method,
        plans.rounding_decimals,
        plans.minor_unit,
        plans.price_denominator
    from billed
    inner join plans using (plan_no)
),

capped as (
    select
        *,
        -- a call with no billable seconds costs nothing: no connect fee
        case when billable_seconds > 0 then
            numerator + cast(first_slot.connect_fee as decimal(38, 8)) * price_denominator
        else 0 end as uncapped_numerator,
        cast(first_slot.max_cost as decimal(38, 8)) * price_denominator as cap_numerator
    from priced
),

costs as (
    select
        *,
        cast(least(uncapped_numerator, coalesce(cap_numerator, uncapped_numerator)) * 100000000 as hugeint)
            as numerator_units,
        cast(price_denominator as hugeint) * cast(10 ** (8 - rounding_decimals) as hugeint) as denominator_units
    from capped
),

prefixes as (
    select distinct prefix_no, prefix from {{ ref('int_tariff_prefixes_flattened') }}
)

select
    costs.call_id,
    costs.deck,
    costs.rate_plan_id,
    costs.account_id,
    costs.route_id,
    costs.vendor_id,
    costs.currency,
    prefixes.prefix as matched_prefix,
    costs.destination,
    costs.answer_band,
    case when not costs.no_card then costs.position end as billed_seconds,
    case when not costs.no_card then costs.pieces end as pieces,
    costs.rounding_decimals,
    case when not costs.no_card then
        {{ round_by_method('costs.numerator_units', 'costs.denominator_units', 'costs.rounding_method',
                           'costs.minor_unit') }}
    end as cost,
    case when costs.no_card then 'no_rate_for_band' end as rating_error
from costs
inner join prefixes using (prefix_no)

union all

select
    located.call_id,
    located.deck,
    located.rate_plan_id,
    located.account_id,
    located.route_id,
    located.vendor_id,
    plans.currency,
    null,
    null,
    null,
    null,
    null,
    plans.rounding_decimals,
    null,
    case
        when located.request_error is not null then located.request_error
        when located.plan_no is null
            and (located.deck, located.rate_plan_id) in (select (deck, rate_plan_id) from {{ ref('int_tariff_errors_found') }})
            then 'invalid_rate_plan'
        when located.plan_no is null then 'unknown_rate_plan'
        else 'unknown_destination'
    end
from {{ ref('int_rating_requests_located') }} as located
left join plans using (plan_no)
where located.prefix_no is null
