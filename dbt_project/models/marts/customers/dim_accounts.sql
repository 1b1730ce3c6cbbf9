-- Every customer account as the CRM last delivered it: what the dashboards show and filter by. One row
-- per account_id.
select
    account_id,
    account_name,
    currency,
    country_code,
    timezone,
    status,
    created_date
from {{ ref('stg_crm__accounts') }}
