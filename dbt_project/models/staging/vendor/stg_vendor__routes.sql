-- Which vendor carries a switch's route, effective-dated.
select
    route_id,
    vendor_id,
    switch_id,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date
from ({{ latest_version('vendor__routes', ['route_id', 'valid_from']) }})
