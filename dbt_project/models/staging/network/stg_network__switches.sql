-- Switch configurations, effective-dated: time zone and dial plan per switch. A date that does not parse
-- is null here (the row then applies on no day) and reported by stg_network__reference_errors.
select
    switch_id,
    source,
    timezone,
    country_code,
    country_calling_code,
    coalesce(national_prefix, '') as national_prefix,
    coalesce(international_prefix, '') as international_prefix,
    format_variant,
    try_cast(valid_from as date) as valid_from,
    try_cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date,
    file_id,
    line_no,
    source_path
from ({{ latest_version('network__switches', ['switch_id', 'valid_from']) }})
