-- RA-25 Vendor invoice reconciliation (cost): per vendor, month (UTC) and destination (the vendor deck's
-- prefix), what the vendor billed (calls, minutes, amount; stg_vendor__invoice_lines) against the calls
-- that left by its routes, costed at its deck (int_calls_rated, deck 'vendor'). Only vendor-months with an
-- invoice are compared. Findings:
--   vendor_overbilled     billed amount or minutes above ours beyond the tolerance vars: the excess is money
--                         to dispute (cost)
--   vendor_underbilled    billed below ours, or a destination we used that the invoice leaves out: nothing
--                         lost yet, a back-bill to expect (none, leakage 0)
--   vendor_line_unmatched a billed destination with no traffic of ours in the month: its amount (cost)
--   vendor_duplicate_line a line repeating another of the same vendor, month and destination with the same
--                         calls, minutes and amount: each extra copy's amount (cost)
--   vendor_line_unreadable a line whose values do not parse: named, not valued (none)
-- Subject: the lines as <vendor_invoice_number>|<line_number> (';'-separated when several bill one
-- destination), or <vendor_id>|<YYYY-MM-DD>|<prefix> for a destination no line bills.
with lines as (
    select * from {{ ref('stg_vendor__invoice_lines') }}
),

readable as (
    select *, vendor_invoice_number || '|' || line_number as line_ref
    from lines where len(unparsable) = 0
),

copies as (
    select
        *,
        row_number() over (
            partition by vendor_id, billing_period, prefix, currency, calls, minutes, amount
            order by vendor_invoice_number, line_number
        ) as copy_no
    from readable
),

billed as (
    select
        vendor_id, billing_period, prefix, currency,
        sum(calls) as calls,
        sum(minutes) as minutes,
        sum(amount) as amount,
        string_agg(line_ref, ';' order by vendor_invoice_number, line_number) as line_refs,
        min(destination) as destination
    from copies
    where copy_no = 1
    group by all
),

invoiced as (
    select distinct vendor_id, billing_period from readable
),

-- our side: every answered outbound call with connected seconds that a vendor deck priced
used as (
    select
        rated.vendor_id,
        cast(date_trunc('month', calls.answer_at) as date) as billing_period,
        rated.matched_prefix as prefix,
        rated.currency,
        count(*) as calls,
        sum(calls.billable_seconds) as seconds,
        sum(rated.cost) as amount,
        min(rated.destination) as destination,
        {{ ra_evidence('rated.call_id', 'rated.cost desc, rated.call_id') }} as evidence
    from {{ ref('int_calls_rated') }} as rated
    inner join {{ ref('fct_calls') }} as calls using (call_id)
    inner join invoiced
        on invoiced.vendor_id = rated.vendor_id
        and invoiced.billing_period = cast(date_trunc('month', calls.answer_at) as date)
    where rated.deck = 'vendor' and rated.cost is not null and calls.billable_seconds > 0
    group by all
),

compared as (
    select
        coalesce(billed.vendor_id, used.vendor_id) as vendor_id,
        coalesce(billed.billing_period, used.billing_period) as billing_period,
        coalesce(billed.prefix, used.prefix) as prefix,
        coalesce(billed.currency, used.currency) as currency,
        coalesce(billed.destination, used.destination) as destination,
        billed.line_refs,
        billed.calls as billed_calls,
        billed.minutes as billed_minutes,
        billed.amount as billed_amount,
        used.calls as used_calls,
        -- connected seconds as minutes, half up to the cent of a minute (integer arithmetic: exact)
        cast((used.seconds * 100 + 30) // 60 as decimal(18, 0)) * cast(0.01 as decimal(3, 2)) as used_minutes,
        used.amount as used_amount,
        used.evidence
    from billed
    full outer join used using (vendor_id, billing_period, prefix, currency)
),

judged as (
    select
        *,
        coalesce(billed_amount, 0) - coalesce(used_amount, 0) as amount_gap,
        coalesce(billed_minutes, 0) - coalesce(used_minutes, 0) as minutes_gap,
        case
            when coalesce(billed_amount, 0) - coalesce(used_amount, 0) > {{ var('ra_vendor_amount_tolerance') }}
                or coalesce(billed_minutes, 0) - coalesce(used_minutes, 0) > {{ var('ra_vendor_minutes_tolerance') }}
                then 'vendor_overbilled'
            when coalesce(used_amount, 0) - coalesce(billed_amount, 0) > {{ var('ra_vendor_amount_tolerance') }}
                or coalesce(used_minutes, 0) - coalesce(billed_minutes, 0) > {{ var('ra_vendor_minutes_tolerance') }}
                then 'vendor_underbilled'
        end as outcome
    from compared
    where used_calls is not null  -- billed destinations with no traffic are judged line by line below
)

select
    {{ ra_finding('RA-25', 'outcome', 'null', 'billing_period', 'currency',
                  "coalesce(line_refs, vendor_id || '|' || billing_period || '|' || prefix)",
                  'used_amount', 'coalesce(billed_amount, 0)',
                  "case when outcome = 'vendor_overbilled' and amount_gap > " ~ var('ra_vendor_amount_tolerance')
                   ~ " then amount_gap else 0 end",
                  "case when outcome = 'vendor_overbilled' then 'cost' else 'none' end",
                  'evidence', 'used_calls',
                  "vendor_id || ' ' || strftime(billing_period, '%Y-%m') || ' ' || prefix || ' ('
                   || coalesce(destination, '?') || '): billed ' || coalesce(billed_calls, 0) || ' call(s), '
                   || coalesce(billed_minutes, 0) || ' min, ' || coalesce(billed_amount, 0) || ' ' || currency
                   || case when line_refs is null then ' (no line)' else '' end
                   || '; carried ' || used_calls || ' call(s), ' || used_minutes || ' min, costed '
                   || used_amount || ' at its deck'") }}
from judged
where outcome is not null

union all

-- a billed destination the vendor carried none of our calls to that month: the whole line is in dispute
select
    {{ ra_finding('RA-25', "'vendor_line_unmatched'", 'null', 'billing_period', 'currency', 'line_ref',
                  '0', 'amount', 'amount', "'cost'", '[]::varchar[]', '0',
                  "vendor_id || ' ' || strftime(billing_period, '%Y-%m') || ' ' || prefix || ' ('
                   || coalesce(destination, '?') || '): billed ' || calls || ' call(s), ' || minutes || ' min, '
                   || amount || ' ' || currency || '; no call of ours left by its routes to it'") }}
from copies
where copy_no = 1
    and (vendor_id, billing_period, prefix, currency) in (
        select (vendor_id, billing_period, prefix, currency) from compared where used_calls is null
    )
    and amount > {{ var('ra_materiality') }}

union all

select
    {{ ra_finding('RA-25', "'vendor_duplicate_line'", 'null', 'billing_period', 'currency', 'line_ref',
                  '0', 'amount', 'amount', "'cost'", '[]::varchar[]', '0',
                  "vendor_id || ' ' || strftime(billing_period, '%Y-%m') || ' ' || prefix || ': '
                   || calls || ' call(s), ' || minutes || ' min, ' || amount || ' ' || currency
                   || ' billed again (copy ' || copy_no || ')'") }}
from copies
where copy_no > 1

union all

select
    {{ ra_finding('RA-25', "'vendor_line_unreadable'", 'null', 'billing_period', 'currency',
                  "vendor_invoice_number || '|' || coalesce(cast(line_number as varchar), 'line ' || line_no)",
                  'null', 'coalesce(amount, 0)', '0', "'none'", '[]::varchar[]', '0',
                  "'unreadable ' || array_to_string(unparsable, ', ') || ' in ' || source_path || ' line ' || line_no") }}
from lines
where len(unparsable) > 0
