-- Every mediated call is priced or held in rating suspense, once: rows here are a broken identity.
select calls, rated, suspended
from (
    select
        (select count(*) from {{ ref('fct_calls') }}) as calls,
        (select count(*) from {{ ref('fct_rated_calls') }}) as rated,
        (select count(*) from {{ ref('fct_rating_suspense') }}) as suspended
)
where calls <> rated + suspended
