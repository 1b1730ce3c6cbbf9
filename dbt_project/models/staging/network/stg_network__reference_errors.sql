-- What is wrong with the network reference files, one row per broken rule: the file (landing path), its
-- line, the row's key and the rule. Mediation goes on for every other switch: a switch with two
-- configurations on a file's day has that file's records rejected (`ambiguous_switch_config`), a row
-- that does not parse applies on no day, and a clock correction that is broken or overlaps another is
-- not applied. The model's test warns while a row is listed, so the run says why.
-- Rules: bad_date, empty_validity, invalid_number_field, overlapping_validity.
with switches as (
    select
        *,
        try_cast(valid_from as date) as valid_from_date,
        try_cast(nullif(valid_to, '') as date) as valid_to_date
    from ({{ latest_version('network__switches', ['switch_id', 'valid_from']) }})
),

corrections as (
    select
        *,
        {{ parse_timestamp('valid_from_utc', '%Y-%m-%dT%H:%M:%SZ') }} as valid_from_at,
        {{ parse_timestamp('valid_to_utc', '%Y-%m-%dT%H:%M:%SZ') }} as valid_to_at
    from ({{ latest_version('network__clock_corrections', ['switch_id', 'valid_from_utc']) }})
),

switch_errors as (
    select source_path, line_no, switch_id as key, 'bad_date' as rule,
        'valid_from=' || coalesce(valid_from, '') || ' valid_to=' || coalesce(valid_to, '') as detail
    from switches
    where valid_from_date is null or (coalesce(valid_to, '') <> '' and valid_to_date is null)
    union all
    select source_path, line_no, switch_id, 'empty_validity',
        'valid_to ' || valid_to || ' is not after valid_from ' || valid_from
    from switches
    where valid_to_date <= valid_from_date
    union all
    select source_path, line_no, switch_id, 'invalid_number_field',
        'country_calling_code=' || coalesce(country_calling_code, '')
    from switches
    where not coalesce(regexp_full_match(country_calling_code, '[1-9][0-9]{0,2}'), false)
    union all
    -- the row that starts while another row of its switch still applies
    select later.source_path, later.line_no, later.switch_id, 'overlapping_validity',
        'valid from ' || later.valid_from || ' while ' || earlier.source_path || ' line ' || earlier.line_no
        || ' (valid from ' || earlier.valid_from || ' to ' || coalesce(nullif(earlier.valid_to, ''), 'open')
        || ') applies'
    from switches as later
    inner join switches as earlier
        on earlier.switch_id = later.switch_id
        and (earlier.valid_from_date < later.valid_from_date
             or (earlier.valid_from_date = later.valid_from_date
                 and (earlier.file_id < later.file_id
                      or (earlier.file_id = later.file_id and earlier.line_no < later.line_no))))
        and later.valid_from_date < coalesce(earlier.valid_to_date, date '9999-12-31')
        and later.valid_from_date < coalesce(later.valid_to_date, date '9999-12-31')
),

correction_errors as (
    select source_path, line_no, switch_id as key, 'bad_date' as rule,
        'valid_from_utc=' || coalesce(valid_from_utc, '') || ' valid_to_utc=' || coalesce(valid_to_utc, '')
            as detail
    from corrections
    where valid_from_at is null or valid_to_at is null
    union all
    select source_path, line_no, switch_id, 'empty_validity',
        'valid_to_utc ' || valid_to_utc || ' is not after valid_from_utc ' || valid_from_utc
    from corrections
    where valid_to_at <= valid_from_at
    union all
    select source_path, line_no, switch_id, 'invalid_number_field',
        'offset_seconds=' || coalesce(offset_seconds, '')
    from corrections
    where not coalesce({{ is_signed_integer('offset_seconds') }}, false)
    union all
    select later.source_path, later.line_no, later.switch_id, 'overlapping_validity',
        'window from ' || later.valid_from_utc || ' overlaps ' || earlier.source_path || ' line '
        || earlier.line_no || ' (' || earlier.valid_from_utc || ' to ' || earlier.valid_to_utc || ')'
    from corrections as later
    inner join corrections as earlier
        on earlier.switch_id = later.switch_id
        and (earlier.valid_from_at < later.valid_from_at
             or (earlier.valid_from_at = later.valid_from_at
                 and (earlier.file_id < later.file_id
                      or (earlier.file_id = later.file_id and earlier.line_no < later.line_no))))
        and later.valid_from_at < earlier.valid_to_at
        and earlier.valid_from_at < earlier.valid_to_at and later.valid_from_at < later.valid_to_at
)

select source_path, line_no, key, rule, detail from switch_errors
union all
select source_path, line_no, key, rule, detail from correction_errors
