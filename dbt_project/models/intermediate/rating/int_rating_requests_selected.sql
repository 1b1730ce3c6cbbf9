-- What to price: one row per call and deck, with the plan that prices it and the moment it is priced at
-- (answer, or start for a call never answered). By default the mediated calls at their account's rate
-- plan (deck `customer`), and the outbound ones also at the cost deck of the vendor whose route carried
-- them (deck `vendor`); with the var `rating_requests: what_if`, the calls given to `tollhouse rate`
-- (each with a plan, or an account whose plan assignment says it).
-- When Dagster passes delivery days (macros/delivery_days.sql), only the calls those days delivered are
-- priced, with every call not priced yet: new to fct_calls (a partial completed, a call out of suspense)
-- or unrated (a late tariff, plan or route releases it); int_calls_rated keeps the other days' prices.
-- Without days, or with a full refresh, every call is priced again.
{{ config(materialized='table') }}
{%- if var('rating_requests', 'calls') != 'what_if' %}
-- depends_on: {{ ref('int_cdr_records_deduplicated') }}
{%- endif %}
{%- set rated = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_calls_rated') %}

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
        try_cast(billable_seconds as integer) as billable_seconds,
        cast(null as varchar) as switch_id,
        cast(null as varchar) as route_id,
        cast(null as varchar) as direction
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
        billable_seconds,
        switch_id,
        route_id,
        direction
    from {{ ref('fct_calls') }}
    {%- if delivery_range_given() and rated is not none %}
    -- not a ref: int_calls_rated is built from this model; this reads what it held before the run
    where {{ in_delivery_range('delivery_date') }}
        -- a call another of whose records the run's days delivered (a partial's late part re-assembles it
        -- with new seconds; the call keeps its first part's delivery day): mediation decided it again
        or call_id in (
            select call_id from {{ ref('int_cdr_records_deduplicated') }} where {{ in_delivery_range('delivery_date') }}
        )
        or call_id in (select call_id from {{ rated }} where rating_error is not null)
        or call_id not in (select call_id from {{ rated }} where deck = 'customer')
    {%- endif %}
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
),

routes as (
    select * from {{ ref('stg_vendor__routes') }}
),

switch_routes as (
    -- a call whose record names no route (FreeSWITCH's templates do not) left by its switch's route
    -- when the switch had exactly one at the call's start
    select given.request_no, any_value(routes.route_id) as route_id, count(*) as routes
    from given
    inner join routes
        on routes.switch_id = given.switch_id and {{ effective_at('routes', 'given.answer_at') }}
    where given.route_id is null and given.direction = 'outbound' and given.billable_seconds > 0
    group by given.request_no
),

vendor_routes as (
    select
        given.*,
        coalesce(given.route_id, case when switch_routes.routes = 1 then switch_routes.route_id end) as routed_by,
        case when given.route_id is not null then 'cdr' when switch_routes.routes = 1 then 'switch' end
            as route_found_by
    from given
    left join switch_routes using (request_no)
    -- a vendor charges for the seconds it carried: a call never answered has no cost to price
    where given.direction = 'outbound' and given.billable_seconds > 0
),

checked as (
    select
        *,
        case
            when answer_at is null or billable_seconds is null or billable_seconds < 0
                or not coalesce(regexp_full_match(b_number, '[0-9]{1,15}'), false) then 'bad_request'
        end as bad_request
    from (
        select
            -- the key rating works on: narrower than call_id and deck
            cast(2 * request_no as bigint) as request_no, call_id, 'customer' as deck, rate_plan_id,
            account_id, cast(null as varchar) as route_id, cast(null as varchar) as vendor_id,
            cast(null as varchar) as route_found_by, b_number, answer_at, billable_seconds,
            case
                when rate_plan_id is null and account_id is not null and given_plan_id is null then 'unknown_account'
                when rate_plan_id is null then 'unknown_rate_plan'
            end as plan_error
        from resolved
        union all
        select
            cast(2 * vendor_routes.request_no + 1 as bigint), vendor_routes.call_id, 'vendor',
            vendors.rate_plan_id, vendor_routes.account_id, vendor_routes.routed_by, routes.vendor_id,
            vendor_routes.route_found_by, vendor_routes.b_number, vendor_routes.answer_at,
            vendor_routes.billable_seconds,
            case
                when routes.route_id is null then 'unknown_route'
                when vendors.rate_plan_id is null then 'unknown_rate_plan'
            end
        from vendor_routes
        left join routes
            on routes.route_id = vendor_routes.routed_by
            and {{ effective_at('routes', 'vendor_routes.answer_at') }}
        left join {{ ref('stg_vendor__vendors') }} as vendors using (vendor_id)
    ) as requests
)

select
    request_no,
    call_id,
    deck,
    rate_plan_id,
    account_id,
    route_id,
    vendor_id,
    route_found_by,
    b_number,
    answer_at,
    billable_seconds,
    coalesce(bad_request, plan_error) as request_error
from checked
