-- Whether each billing period is closed: the latest act in the period log decides (a close freezes the
-- period's invoices; a re-open, an explicit logged act, opens it again). Periods never acted on are open.
select
    billing_period,
    arg_max(action, acted_at) = 'close' as is_closed,
    max(acted_at) filter (where action = 'close') as closed_at,
    count(*) filter (where action = 'reopen') as reopened_times
from {{ source('billing', 'period_log') }}
group by billing_period
