-- RA-16 Usage file sequence: each switch names its files by UTC hour (`<switch>_<YYYYMMDD>T<HH>Z.csv[.gz]`)
-- or by sequence number (`<switch>_<n>.csv`); from its own files alone (raw.load_audit, not the billing
-- export), find
-- - file_missing: an hour of the switch's span with no file where its comparable hours (same UTC hour, same
--   day type, ra_capture_history_weeks either side) say it carries calls (macros/ra_capture.sql judges it as
--   RA-14 judges a day), or a number missing from its sequence;
-- - file_empty: a file that loaded no line (empty, header only, every line rejected) in such an hour;
-- - file_duplicated: a re-delivery (same bytes; ingestion loaded nothing), or a second loaded file of the
--   same switch and hour whose records mediation deduplicated (direction none), or not all of them (over).
-- A lost hour is valued per currency: median calls x median rated charge per call of the comparable hours,
-- an estimate. Account: null (a file belongs to no one account).
{{ config(materialized='table') }}
with customer_rated as (
    -- each call's price at its customer plan (what fct_rated_calls carries, without its vendor-cost joins)
    select call_id, currency, cost from {{ ref('int_calls_rated') }} where deck = 'customer' and rating_error is null
),

named as (
    select * from {{ ref('int_ra_switch_files_parsed') }}
),

hourly_files as (
    select * from named where hour_at is not null
),

calls as (
    select calls.call_id, hourly_files.unit, hourly_files.hour_at
    from {{ ref('fct_calls') }} as calls
    inner join hourly_files using (file_id)
),

traffic as (
    select calls.unit, calls.hour_at, rated.currency, count(*) as calls, sum(rated.cost) as charge
    from calls
    left join customer_rated as rated using (call_id)
    group by calls.unit, calls.hour_at, rated.currency
),

totals as (
    select unit, hour_at, sum(calls) as calls from traffic group by unit, hour_at
),

zones as (
    {{ ra_capture_zones('calls') }}
),

units as (
    select unit, min(hour_at) as first_hour, max(hour_at) as last_hour, any_value(zones.timezone) as timezone
    from hourly_files
    left join zones using (unit)
    group by unit
),

grid as (
    {{ ra_capture_grid('units') }}
),

comparable as (
    {{ ra_capture_comparable('grid') }}
),

judged as (
    {{ ra_capture_judged('grid', 'comparable', 'totals') }}
),

-- the files of each hour: none (missing) or only files that loaded no line (empty)
hours as (
    select
        judged.*,
        count(hourly_files.file_id) as files,
        count(hourly_files.file_id) filter (where hourly_files.status = 'loaded' and hourly_files.rows_loaded = 0)
            as empty_files,
        count(hourly_files.file_id) filter (where hourly_files.status = 'loaded' and hourly_files.rows_loaded > 0)
            as full_files,
        min(hourly_files.path) filter (where hourly_files.status = 'loaded' and hourly_files.rows_loaded = 0)
            as empty_path
    from judged
    left join hourly_files using (unit, hour_at)
    group by all
),

short as (
    select
        unit, hour_at, calls, expected_calls, history_hours,
        case when files = 0 then 'file_missing' else 'file_empty' end as finding_type,
        case when files = 0 then unit || '|' || strftime(hour_at, '%Y-%m-%dT%H') else empty_path end as subject
    from hours
    where is_short and (files = 0 or (empty_files > 0 and full_files = 0))
),

valued as (
    {{ ra_capture_valued('short', 'comparable', 'traffic') }}
),

lost_hours as (
    select
        short.*,
        valued.currency,
        valued.median_calls,
        valued.median_charge,
        cast(round(coalesce(valued.median_calls * valued.median_charge, 0), 6) as decimal(18, 6)) as estimate,
        count(*) over (partition by short.unit, short.hour_at) as currencies
    from short
    left join valued using (unit, hour_at)
),

-- numbered files: a gap between consecutive numbers of a switch (names with an hour are judged by hour)
gaps as (
    {{ ra_sequence_gaps('named') }}
),

-- two or more loaded files of one switch and hour: the first delivered (day, then path) is the original
same_hour as (
    select
        hourly_files.*,
        first_value(path) over (partition by unit, hour_at order by delivery_date, path) as original_path,
        row_number() over (partition by unit, hour_at order by delivery_date, path) as copy_no
    from hourly_files
    where status = 'loaded' and rows_loaded > 0
),

copies as (
    select
        same_hour.file_id, same_hour.path, same_hour.delivery_date, same_hour.rows_loaded, same_hour.original_path,
        (select count(*) from {{ ref('fct_mediation_rejects') }} as rejects
         where rejects.file_id = same_hour.file_id and rejects.stage = 'deduplication') as deduplicated,
        survivors.calls as survived, survivors.charge, survivors.currency
    from same_hour
    left join (
        select calls.file_id, count(*) as calls, sum(rated.cost) as charge, min(rated.currency) as currency
        from {{ ref('fct_calls') }} as calls
        left join customer_rated as rated using (call_id)
        group by calls.file_id
    ) as survivors using (file_id)
    where same_hour.copy_no > 1
)

select
    {{ ra_finding('RA-16', 'finding_type', 'null', "date_trunc('month', hour_at)", 'currency',
                  "subject || case when currencies > 1 then '|' || currency else '' end",
                  'estimate', '0', 'estimate', "case when estimate > 0 then 'under_billing' else 'none' end",
                  '[]::varchar[]', '0',
                  "unit || ' ' || strftime(hour_at, '%Y-%m-%d %H:00') || ' UTC: '
                   || case finding_type when 'file_missing' then 'no file' else 'an empty file' end
                   || ', ' || calls || ' calls against a median of ' || expected_calls || ' in the '
                   || history_hours || ' comparable hours; estimated from ' || history_hours || ' comparable days'
                   || coalesce(': median ' || median_calls || ' calls in ' || currency || ' x median '
                               || round(median_charge, 6) || ' per call', ': no rated calls')") }}
from lost_hours

union all

select
    {{ ra_finding('RA-16', "'file_missing'", 'null', "date_trunc('month', delivery_date)", 'null',
                  "unit || '|#' || seq", '0', '0', '0', "'under_billing'", '[]::varchar[]', '0',
                  "unit || ': file number ' || seq || ' of its sequence never arrived (value unknown)'") }}
from gaps

union all

select
    {{ ra_finding('RA-16', "'file_duplicated'", 'null', "date_trunc('month', redelivered.delivery_date)", 'null',
                  'redelivered.path', '0', '0', '0', "'none'", '[]::varchar[]', '0',
                  "'same bytes as ' || coalesce(original.path, redelivered.duplicate_of)
                   || ': a re-delivery, ingestion loaded nothing from it'") }}
from named as redelivered
left join {{ source('raw', 'load_audit') }} as original on original.file_id = redelivered.duplicate_of
where redelivered.status = 'redelivery'

union all

select
    {{ ra_finding('RA-16', "'file_duplicated'", 'null', "date_trunc('month', delivery_date)",
                  "case when coalesce(survived, 0) > 0 then currency end", 'path',
                  "case when coalesce(survived, 0) > 0 then coalesce(charge, 0) else 0 end", '0',
                  "case when coalesce(survived, 0) > 0 then coalesce(charge, 0) else 0 end",
                  "case when coalesce(survived, 0) > 0 then 'over_billing' else 'none' end", '[]::varchar[]',
                  'coalesce(survived, 0)',
                  "'the same switch hour as ' || original_path || ': mediation deduplicated ' || deduplicated
                   || ' of its ' || rows_loaded || ' record(s)'
                   || case when coalesce(survived, 0) > 0 then ', ' || survived || ' became calls (billed twice?)'
                      else '' end") }}
from copies
-- a second file of an hour holding other calls is no copy: only one sharing records with an earlier file
where deduplicated > 0
