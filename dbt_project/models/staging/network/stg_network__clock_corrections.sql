-- Clock faults the NOC reported: inside [valid_from, valid_to) of true UTC time, the switch's clock read
-- true time + offset_seconds.
select
    switch_id,
    {{ parse_timestamp('valid_from_utc', '%Y-%m-%dT%H:%M:%SZ') }} as valid_from,
    {{ parse_timestamp('valid_to_utc', '%Y-%m-%dT%H:%M:%SZ') }} as valid_to,
    try_cast(offset_seconds as integer) as offset_seconds,
    note,
    delivery_date
from ({{ latest_version('network__clock_corrections', ['switch_id', 'valid_from_utc']) }})
