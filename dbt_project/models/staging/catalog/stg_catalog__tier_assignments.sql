-- Which tier plan an account uses, effective-dated.
select
    account_id,
    tier_plan_id,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date
from ({{ latest_version('catalog__tier_assignments', ['account_id', 'valid_from']) }})
