-- RA-06 Usage without an active subscription: an account's rated calls on local days it has no active
-- recurring service (a trunk or number not on order, so not charged for). One finding per account and
-- period; the recurring revenue missed is not known from the calls: leakage 0, the calls as evidence.
with calls as (
    select call_id, account_id, billing_period, account_currency as currency, local_day
    from {{ ref('int_ra_calls_expected') }}
),

services as (
    select subs.account_id, subs.start_date, subs.end_date
    from {{ ref('stg_crm__subscriptions') }} as subs
    inner join {{ ref('stg_catalog__products') }} as products using (product_id)
    where products.charge_type = 'recurring'
)

select
    {{ ra_finding('RA-06', "'usage_without_subscription'", 'account_id', 'billing_period', 'any_value(currency)',
                  "account_id || ':' || billing_period", 'null', 'null', '0', "'none'",
                  ra_evidence('call_id', 'call_id'), 'count(*)',
                  "count(*) || ' call(s) on ' || count(distinct local_day) || ' day(s) without an active service, from '
                   || min(local_day)") }}
from calls
where not exists (
    select 1 from services
    where services.account_id = calls.account_id
        and services.start_date <= calls.local_day
        and (services.end_date is null or calls.local_day < services.end_date)
)
group by account_id, billing_period
