-- A subscription to a product with no price in the account's currency would be billed at nothing.
select * from {{ ref('int_subscriptions_charged') }} where amount is null
