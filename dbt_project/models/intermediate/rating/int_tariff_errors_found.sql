-- Every rule a tariff file breaks (docs/rating.md), with the file, the line (the header is line 1)
-- and a message a pricing analyst can act on. A plan with any error is not used to rate: its calls are
-- unrated (`invalid_rate_plan`), never priced from half a tariff.
with plans as ({{ tariff_rows('rate_plans') }}),
rates as ({{ tariff_rows('rates') }}),
bands as ({{ tariff_rows('time_bands') }}),
holidays as ({{ tariff_rows('holidays') }}),

coverage as (
    select
        *,
        lag(end_second) over (partition by deck, rate_plan_id, weekday order by start_second, end_second)
            as previous_end
    from {{ ref('int_tariff_bands_expanded') }}
    where start_second is not null and end_second is not null
),

weekday_ends as (
    select deck, rate_plan_id, weekday, max(end_second) as last_end, arg_max(file_path, end_second) as file_path,
        arg_max(line_no, end_second) as line_no
    from coverage
    group by all
),

plan_weekdays as (
    select plans.deck, plans.rate_plan_id, plans.file_path, plans.line_no, days.weekday
    from plans cross join (select unnest(range(1, 8)) as weekday) as days
),

slot_groups as (
    select
        *,
        min(group_start_s) over (partition by deck, rate_plan_id, prefix, band, valid_from) as first_group_start,
        lag(valid_to) over (
            partition by deck, rate_plan_id, prefix, band, group_start_s order by valid_from
        ) as previous_valid_to,
        lag(valid_from) over (
            partition by deck, rate_plan_id, prefix, band, group_start_s order by valid_from
        ) as previous_valid_from
    from rates
),

plan_bands as (
    select distinct deck, rate_plan_id, band from bands
),

errors as (
    select deck, file_path, line_no, rate_plan_id, 'unparsable_value' as rule,
        'not a value of its type: ' || array_to_string(unparsable, ', ') as message
    from plans where len(unparsable) > 0
    union all
    select deck, file_path, line_no, rate_plan_id, 'bad_rounding',
        'rounding_method must be up, half_up or down and rounding_decimals 0 to 6'
    from plans
    where rounding_method not in ('up', 'half_up', 'down') or rounding_decimals not between 0 and 6
    union all
    select deck, file_path, line_no, rate_plan_id, 'bad_band_mode', 'band_mode must be split or start'
    from plans where band_mode not in ('split', 'start')
    union all
    select deck, file_path, line_no, rate_plan_id, 'unknown_timezone', 'time zone ' || timezone || ' is not known'
    from plans where timezone not in (select name from pg_timezone_names())

    union all
    select deck, file_path, line_no, rate_plan_id, 'unparsable_value',
        'not a value of its type: ' || array_to_string(unparsable, ', ')
    from rates where len(unparsable) > 0
    union all
    select deck, file_path, line_no, rate_plan_id, 'missing_value',
        'prefix, valid_from, group_start_s, rate, rate_unit_s and increment_s are required'
    from rates
    where len(unparsable) = 0 and (coalesce(prefix, '') = '' or valid_from is null or group_start_s is null
        or rate is null or rate_unit_s is null or increment_s is null)
    union all
    select deck, file_path, line_no, rate_plan_id, 'unknown_rate_plan', 'rate_plan_id is not in rate_plans.csv'
    from rates where rate_plan_id not in (select rate_plan_id from plans where plans.deck = rates.deck)
    union all
    select deck, file_path, line_no, rate_plan_id, 'bad_prefix', 'prefix must be 1 to 15 digits (E.164)'
    from rates where not regexp_full_match(prefix, '[0-9]{1,15}')
    union all
    select deck, file_path, line_no, rate_plan_id, 'zero_increment', 'increment_s and rate_unit_s must be above 0'
    from rates where increment_s <= 0 or rate_unit_s <= 0
    union all
    select deck, file_path, line_no, rate_plan_id, 'negative_amount', 'rate, connect_fee and max_cost cannot be negative'
    from rates where rate < 0 or connect_fee < 0 or max_cost < 0
    union all
    select deck, file_path, line_no, rate_plan_id, 'empty_validity', 'valid_to must be after valid_from'
    from rates where valid_to <= valid_from
    union all
    select deck, file_path, line_no, rate_plan_id, 'slots_out_of_order',
        'the first slot of prefix ' || prefix || ' band ' || band || ' from ' || valid_from
        || ' starts at ' || first_group_start || ' s, not 0'
    from slot_groups where first_group_start <> 0 and group_start_s = first_group_start
    union all
    select deck, file_path, line_no, rate_plan_id, 'overlapping_validity',
        'prefix ' || prefix || ' band ' || band || ' slot ' || group_start_s || ' from ' || valid_from
        || ' overlaps the version from ' || previous_valid_from
    from slot_groups
    where previous_valid_from is not null and coalesce(previous_valid_to, date '9999-12-31') > valid_from
    union all
    select rates.deck, rates.file_path, rates.line_no, rates.rate_plan_id, 'unknown_band',
        'band ' || rates.band || ' is not in time_bands.csv for this plan'
    from rates
    left join plan_bands using (deck, rate_plan_id, band)
    where rates.band <> '*' and plan_bands.band is null

    union all
    select deck, file_path, line_no, rate_plan_id, 'unparsable_value',
        'not a value of its type: ' || array_to_string(unparsable, ', ')
    from bands where len(unparsable) > 0
    union all
    select deck, file_path, line_no, rate_plan_id, 'bad_weekdays', 'weekdays must be ISO days 1-7: 1-5, 6,7 or 3'
    from bands
    where not regexp_full_match(replace(weekdays, ' ', ''), '[1-7](-[1-7])?(,[1-7](-[1-7])?)*')
    union all
    select deck, file_path, line_no, rate_plan_id, 'empty_band', 'end_time must be after start_time'
    from bands where end_second <= start_second
    union all
    select deck, file_path, line_no, rate_plan_id, 'week_not_covered',
        case when previous_end is null then 'weekday ' || weekday || ' starts in no band before this band'
            when start_second > previous_end then 'weekday ' || weekday || ' has a gap before this band'
            else 'weekday ' || weekday || ': this band overlaps the one before' end
    from coverage
    where start_second <> coalesce(previous_end, 0)
    union all
    select plan_weekdays.deck, coalesce(ends.file_path, plan_weekdays.file_path),
        coalesce(ends.line_no, plan_weekdays.line_no), plan_weekdays.rate_plan_id, 'week_not_covered',
        'weekday ' || plan_weekdays.weekday
        || case when ends.last_end is null then ' has no band' else ' is in no band after the end of this band' end
    from plan_weekdays
    left join weekday_ends as ends using (deck, rate_plan_id, weekday)
    where coalesce(ends.last_end, 0) <> 86400

    union all
    select deck, file_path, line_no, rate_plan_id, 'unparsable_value',
        'not a value of its type: ' || array_to_string(unparsable, ', ')
    from holidays where len(unparsable) > 0
    union all
    select holidays.deck, holidays.file_path, holidays.line_no, holidays.rate_plan_id, 'unknown_band',
        'band ' || holidays.band || ' is not in time_bands.csv for this plan'
    from holidays
    left join plan_bands using (deck, rate_plan_id, band)
    where plan_bands.band is null
)

select
    deck,
    {{ file_name('file_path') }} as file_name,
    file_path,
    line_no as file_line,  -- physical line: the header is line 1
    rate_plan_id,
    rule,
    message
from errors
