-- Control totals per delivery day and stage: lines landed, records mediated into calls, calls rated,
-- calls billed. The data-operations page shows where a day's volume stopped; the controls that value
-- the gaps are the findings (completeness, conservation, CDR-to-bill). Keyed by the day the switch
-- delivered the call, so a late file's calls count on the day they arrived.
with ingestion as (
    select delivery_date, sum(lines) as lines_landed, sum(raw_rows) as raw_rows,
        sum(rejected_lines) as lines_rejected, sum(files) as files
    from {{ ref('rpt_ingestion_daily') }}
    group by delivery_date
),

mediation as (
    select delivery_date, sum(records_in) as records_in, sum(calls_out) as calls_mediated,
        sum(duplicates) as duplicates, sum(rejected) as records_rejected, sum(suspended) as records_in_suspense
    from {{ ref('rpt_mediation_daily') }}
    group by delivery_date
),

rated as (
    select calls.delivery_date, count(*) as calls_rated,
        count(*) filter (where rated.billable_seconds > 0) as calls_billable
    from {{ ref('fct_rated_calls') }} as rated
    inner join {{ ref('fct_calls') }} as calls on calls.call_id = rated.call_id
    group by calls.delivery_date
),

unrated as (
    select calls.delivery_date, count(*) as calls_in_rating_suspense
    from {{ ref('fct_rating_suspense') }} as held
    inner join {{ ref('fct_calls') }} as calls on calls.call_id = held.call_id
    group by calls.delivery_date
),

billed as (
    select calls.delivery_date, count(distinct invoiced.call_id) as calls_billed
    from {{ ref('fct_invoice_calls') }} as invoiced
    inner join {{ ref('fct_calls') }} as calls on calls.call_id = invoiced.call_id
    group by calls.delivery_date
),

days as (
    select delivery_date from ingestion
    union select delivery_date from mediation
    union select delivery_date from rated
    union select delivery_date from billed
)

select
    days.delivery_date,
    coalesce(ingestion.files, 0) as files,
    coalesce(ingestion.lines_landed, 0) as lines_landed,
    coalesce(ingestion.lines_rejected, 0) as lines_rejected,
    coalesce(mediation.records_in, 0) as records_in,
    coalesce(mediation.calls_mediated, 0) as calls_mediated,
    coalesce(mediation.duplicates, 0) as duplicates,
    coalesce(mediation.records_rejected, 0) as records_rejected,
    coalesce(mediation.records_in_suspense, 0) as records_in_suspense,
    coalesce(rated.calls_rated, 0) as calls_rated,
    coalesce(unrated.calls_in_rating_suspense, 0) as calls_in_rating_suspense,
    coalesce(rated.calls_billable, 0) as calls_billable,
    coalesce(billed.calls_billed, 0) as calls_billed
from days
left join ingestion on ingestion.delivery_date = days.delivery_date
left join mediation on mediation.delivery_date = days.delivery_date
left join rated on rated.delivery_date = days.delivery_date
left join unrated on unrated.delivery_date = days.delivery_date
left join billed on billed.delivery_date = days.delivery_date
