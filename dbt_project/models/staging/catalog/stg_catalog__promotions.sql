-- Promotions: a percentage off an account's charges of one type, effective-dated.
select
    promotion_id,
    account_id,
    charge_type,
    cast(discount_percent as decimal(9, 4)) as discount_percent,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date
from ({{ latest_version('catalog__promotions', ['promotion_id']) }})
