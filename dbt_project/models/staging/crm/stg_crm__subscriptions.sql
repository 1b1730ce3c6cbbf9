-- Orders and subscriptions (products an account takes, effective-dated), the latest version of each.
select
    subscription_id,
    order_id,
    account_id,
    product_id,
    cast(quantity as integer) as quantity,
    cast(start_date as date) as start_date,
    cast(nullif(end_date, '') as date) as end_date,
    cast(order_date as date) as order_date,
    delivery_date
from ({{ latest_version('crm__subscriptions', ['subscription_id']) }})
