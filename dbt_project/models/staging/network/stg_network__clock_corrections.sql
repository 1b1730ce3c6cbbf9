-- Clock faults the NOC reported: inside [valid_from, valid_to) of true UTC time, the switch's clock read
-- true time + offset_seconds. A row whose times or offset do not parse, or whose window overlaps another
-- of its switch (which offset applies?), is left out and reported by stg_network__reference_errors:
-- mediation goes on with the switch's recorded times there instead of writing each record twice.
with versions as (
    select
        * exclude (valid_from_utc, valid_to_utc),
        {{ parse_timestamp('valid_from_utc', '%Y-%m-%dT%H:%M:%SZ') }} as valid_from,
        {{ parse_timestamp('valid_to_utc', '%Y-%m-%dT%H:%M:%SZ') }} as valid_to
    from ({{ latest_version('network__clock_corrections', ['switch_id', 'valid_from_utc']) }})
),

valid as (
    select * from versions
    where valid_from < valid_to and {{ is_signed_integer('offset_seconds') }}
)

select
    switch_id,
    valid_from,
    valid_to,
    cast(offset_seconds as integer) as offset_seconds,
    note,
    delivery_date,
    file_id,
    line_no,
    source_path
from valid as v
where not exists (
    select 1 from valid as other
    where other.switch_id = v.switch_id and (other.file_id <> v.file_id or other.line_no <> v.line_no)
        and other.valid_from < v.valid_to and v.valid_from < other.valid_to
)
