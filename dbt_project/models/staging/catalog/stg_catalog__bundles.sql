-- Free-minute bundles: seconds included per period, for one call type.
select product_id, cast(included_seconds as bigint) as included_seconds, call_type, delivery_date
from ({{ latest_version('catalog__bundles', ['product_id', 'call_type']) }})
