-- RA-11 Suspense ageing: calls held in mediation suspense (no owner, incomplete, or a start far from its
-- delivery day) or rating suspense (no price) for more than var ra_suspense_age_days delivery days. Unbilled while held; their price is not
-- known: leakage 0, the call as evidence.
select
    {{ ra_finding('RA-11', "'suspense_aged'", 'null', "date_trunc('month', coalesce(start_at, held_since))", 'null',
                  'call_id', 'null', 'null', '0', "'none'", '[call_id]', '1',
                  "'in mediation suspense (' || reason || ') for ' || age_days || ' delivery day(s)'") }}
from {{ ref('fct_suspense') }}
where age_days > {{ var('ra_suspense_age_days') }}

union all

select
    {{ ra_finding('RA-11', "'suspense_aged'", 'account_id', "date_trunc('month', start_at)",
                  'null', 'call_id', 'null', 'null', '0', "'none'", '[call_id]', '1',
                  "'in rating suspense (' || reason || ') for ' || age_days || ' delivery day(s)'") }}
from {{ ref('fct_rating_suspense') }}
where age_days > {{ var('ra_suspense_age_days') }}
