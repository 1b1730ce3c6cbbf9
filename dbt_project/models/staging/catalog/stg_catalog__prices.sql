-- Recurring and one-time prices per product and currency, effective-dated.
select
    product_id,
    currency,
    cast(unit_price as decimal(18, 6)) as unit_price,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date
from ({{ latest_version('catalog__prices', ['product_id', 'currency', 'valid_from']) }})
