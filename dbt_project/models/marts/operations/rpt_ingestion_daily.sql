-- Control totals of the raw layer per source and delivery day: what landed, what loaded, what was
-- rejected or held back. lines_unaccounted must be zero: every line is a raw row or a reject.
-- The audit is written by every ingestion asset; these hints make them all upstream of this model:
-- depends_on: {{ source('raw', 'asterisk__cdr') }} {{ source('raw', 'freeswitch__cdr') }}
-- depends_on: {{ source('raw', 'carrier__cdr') }} {{ source('raw', 'network__switches') }}
-- depends_on: {{ source('raw', 'crm__accounts') }} {{ source('raw', 'catalog__rates') }}
-- depends_on: {{ source('raw', 'vendor__rates') }} {{ source('raw', 'fx__fx_rates') }}
-- depends_on: {{ source('raw', 'tax__tax_rules') }}

with audit as (
    select * from {{ source('raw', 'load_audit') }}
),

daily as (
    select
        source,
        delivery_date,
        -- files
        count(*) as files,
        count(*) filter (where status = 'loaded') as files_loaded,
        count(*) filter (where status = 'redelivery') as files_redelivered,
        count(*) filter (where status = 'quarantined') as files_quarantined,
        sum(size_bytes) as bytes_landed,
        -- lines of loaded files, header lines excluded
        coalesce(sum(lines - header_lines) filter (where status = 'loaded'), 0) as lines,
        sum(rows_loaded) as raw_rows,
        sum(rows_rejected) as rejected_lines,
        max(loaded_at) as last_loaded_at
    from audit
    group by source, delivery_date
)

select
    *,
    lines - raw_rows - rejected_lines as lines_unaccounted
from daily
