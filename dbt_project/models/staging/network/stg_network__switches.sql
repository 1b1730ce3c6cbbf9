-- Switch configurations, effective-dated: time zone and dial plan per switch.
select
    switch_id,
    source,
    timezone,
    country_code,
    country_calling_code,
    coalesce(national_prefix, '') as national_prefix,
    coalesce(international_prefix, '') as international_prefix,
    format_variant,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date
from ({{ latest_version('network__switches', ['switch_id', 'valid_from']) }})
