-- Carriers the operator buys termination from, each with its cost deck.
select
    vendor_id,
    vendor_name,
    currency,
    rate_plan_id,
    delivery_date
from ({{ latest_version('vendor__vendors', ['vendor_id']) }})
