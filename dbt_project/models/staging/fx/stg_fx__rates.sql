-- Daily FX rates: one unit of base_currency is worth `rate` units of quote_currency on rate_date.
select
    cast(rate_date as date) as rate_date,
    base_currency,
    quote_currency,
    cast(rate as decimal(18, 8)) as rate,
    delivery_date
from ({{ latest_version('fx__fx_rates', ['rate_date', 'base_currency', 'quote_currency']) }})
