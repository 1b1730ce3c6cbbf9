-- Customer accounts, the latest delivered version of each.
select
    account_id,
    account_name,
    country_code,
    currency,
    timezone,
    billing_email,
    address_line1,
    city,
    postcode,
    cast(created_date as date) as created_date,
    status,
    delivery_date
from ({{ latest_version('crm__accounts', ['account_id']) }})
