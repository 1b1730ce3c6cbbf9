-- The periods under assurance: every month the billing system of record exported invoices for, with the
-- day the data stands at (the last delivery loaded). Ages, due dates and "first seen" are measured at it,
-- never at the clock, so re-running the controls on the same data gives the same findings.
{{ config(materialized='table') }}
select
    periods.billing_period,
    (select max(delivery_date) from {{ source('raw', 'load_audit') }} where status = 'loaded') as as_of_date
from (select distinct billing_period from {{ ref('stg_billing_export__invoices') }}) as periods
