-- What to price: one row per call and deck, with the plan that prices it and the moment it is priced at
-- (answer, or start for a call never answered). By default the mediated calls at their account's rate
-- plan on the call's start day; with the var `rating_requests: what_if`, the calls given to
-- `tollhouse rate` (each with a plan, or an account whose plan assignment says it).
{{ config(materialized='table') }}

with assignments as (
    select * from {{ ref('stg_catalog__plan_assignments') }}
),

{% if var('rating_requests', 'calls') == 'what_if' %}
given as (
    select
        request_no,
        call_id,
        nullif(trim(rate_plan_id), '') as given_plan_id,
        nullif(trim(account_id), '') as account_id,
        trim(b_number) as b_number,
        {{ to_utc_timestamp('try_cast(answer_at as timestamptz)') }} as answer_at,
        try_cast(billable_seconds as integer) as billable_seconds
    from {{ source('what_if', 'rating_requests') }}
),
{% else %}
given as (
    select
        row_number() over () as request_no,
        call_id,
        cast(null as varchar) as given_plan_id,
        account_id,
        b_number,
        coalesce(answer_at, start_at) as answer_at,
        billable_seconds
    from {{ ref('fct_calls') }}
),
{% endif %}

resolved as (
    select
        given.*,
        coalesce(given.given_plan_id, assignments.rate_plan_id) as rate_plan_id
    from given
    -- a given plan wins over the account's (coalesce above); a test on given_plan_id here would be a
    -- condition on the left side alone, which turns this join into a nested loop
    left join assignments
        on assignments.account_id = given.account_id and {{ effective_at('assignments', 'given.answer_at') }}
)

select
    cast(request_no as bigint) as request_no,  -- the key rating works on: narrower than call_id and deck
    call_id,
    'customer' as deck,
    rate_plan_id,
    account_id,
    b_number,
    answer_at,
    billable_seconds,
    case
        when answer_at is null or billable_seconds is null or billable_seconds < 0
            or not coalesce(regexp_full_match(b_number, '[0-9]{1,15}'), false) then 'bad_request'
        when rate_plan_id is null and account_id is not null and given_plan_id is null then 'unknown_account'
        when rate_plan_id is null then 'unknown_rate_plan'
    end as request_error
from resolved
