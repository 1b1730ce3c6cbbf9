-- Products the operator sells (recurring, one-time and usage charges).
select product_id, product_name, charge_type, unit, delivery_date
from ({{ latest_version('catalog__products', ['product_id']) }})
