-- The day's rate of every currency into the reporting one (var reporting_currency): what the dashboards
-- multiply an amount in `base_currency` by to show it in `quote_currency`. One row per rate_day and
-- base_currency; a day without a published rate carries the latest one before it (int_fx_rates_carried_forward).
select rate_day, base_currency, quote_currency, rate, published_on
from {{ ref('int_fx_rates_carried_forward') }}
where quote_currency = '{{ var("reporting_currency") }}'
