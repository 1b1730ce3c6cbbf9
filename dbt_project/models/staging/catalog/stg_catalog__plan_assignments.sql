-- Which customer rate plan an account uses, effective-dated.
select
    account_id,
    rate_plan_id,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date
from ({{ latest_version('catalog__plan_assignments', ['account_id', 'valid_from']) }})
