-- A subscription to a product with no price in the account's currency would be billed at nothing.
select * from {{ ref('int_billing_subscription_charges') }} where amount is null
