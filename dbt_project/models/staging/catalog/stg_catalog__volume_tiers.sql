-- Volume tiers (graduated or volume) per tier plan and call type.
select
    tier_plan_id,
    call_type,
    tier_mode,
    cast(tier_from_units as decimal(18, 6)) as tier_from_units,
    cast(nullif(tier_to_units, '') as decimal(18, 6)) as tier_to_units,
    cast(unit_price as decimal(18, 6)) as unit_price,
    cast(nullif(flat_amount, '') as decimal(18, 6)) as flat_amount,
    currency,
    unit,
    delivery_date
from ({{ latest_version('catalog__volume_tiers', ['tier_plan_id', 'call_type', 'tier_from_units']) }})
