-- RA-14 Volume anomaly per switch and day: a switch's mediated calls on a day against the median of the
-- same weekday in its previous var ra_volume_history_weeks weeks (when at least var ra_volume_min_history
-- of them had traffic). Below (1 - ra_volume_band) x the median is a drop (lost files, a switch down), above
-- (1 + band) a spike, when the gap is also beyond var ra_volume_min_sigma standard deviations of a Poisson
-- count of that median (a quiet switch's weekend swings 50% by chance; a dead one does not). Public holidays (a day in any customer plan's holiday calendar) are neither judged
-- nor history: traffic is low on them by nature. No money value: the calls' count in the detail.
with periods as (
    select * from {{ ref('int_ra_periods_selected') }}
),

holidays as (
    select distinct holiday_date from {{ ref('stg_catalog__holidays') }} where holiday_date is not null
),

daily as (
    select switch_id, call_date, count(*) as calls
    from {{ ref('fct_calls') }}
    where call_date not in (select holiday_date from holidays)
    group by switch_id, call_date
),

days as (
    -- every day of the periods under assurance for every switch: a day with no calls at all is a drop too
    select switches.switch_id, cast(day as date) as call_date
    from (select distinct switch_id from daily) as switches,
        (select min(billing_period) as first, max(billing_period) + interval 1 month - interval 1 day as last
         from periods) as bounds,
        unnest(generate_series(bounds.first, bounds.last, interval 1 day)) as d(day)
    where cast(day as date) <= (select max(call_date) from daily)
        and cast(day as date) not in (select holiday_date from holidays)
),

compared as (
    select
        days.switch_id,
        days.call_date,
        coalesce(today.calls, 0) as calls,
        median(history.calls) as baseline,
        count(history.calls) as history_days
    from days
    left join daily as today using (switch_id, call_date)
    left join daily as history
        on history.switch_id = days.switch_id
        and history.call_date < days.call_date
        and history.call_date >= days.call_date - {{ 7 * var('ra_volume_history_weeks') }}
        and dayofweek(history.call_date) = dayofweek(days.call_date)
    group by days.switch_id, days.call_date, today.calls
)

select
    {{ ra_finding('RA-14', "case when calls < baseline then 'volume_drop' else 'volume_spike' end", 'null',
                  "date_trunc('month', call_date)", 'null', "switch_id || ':' || call_date", 'null', 'null', '0',
                  "'none'", '[]::varchar[]', 'calls',
                  "switch_id || ' on ' || strftime(call_date, '%a %Y-%m-%d') || ': ' || calls || ' calls against a median of '
                   || baseline || ' on the same weekday of the ' || history_days || ' week(s) before'") }}
from compared
where history_days >= {{ var('ra_volume_min_history') }}
    and (calls < (1 - {{ var('ra_volume_band') }}) * baseline or calls > (1 + {{ var('ra_volume_band') }}) * baseline)
    and abs(calls - baseline) > {{ var('ra_volume_min_sigma') }} * sqrt(baseline)
