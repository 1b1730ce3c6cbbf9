-- Control totals of the raw layer per source and delivery day: what landed, what loaded, what was rejected
-- or held back. Rows and rejects are recounted from the raw tables, not taken from the audit's counters, so
-- the two zero-columns below prove what they claim: every line of a loaded file is a raw row or a reject
-- (lines_unaccounted), and re-delivered, quarantined or refused files left nothing behind (rows_of_unloaded_files).
-- depends_on: {{ source('raw', 'load_audit') }}

{%- set raw_tables = [] -%}
{%- if execute -%}
    {%- for node in graph.sources.values() if node.source_name == 'raw'
          and node.name not in ['load_audit', 'rejects'] -%}
        {%- do raw_tables.append(node.name) -%}
    {%- endfor -%}
{%- endif %}

with audit as (
    select * from {{ source('raw', 'load_audit') }}
),

raw_rows as (
    {%- for table in raw_tables | sort %}
    select file_id, count(*) as n from {{ source('raw', table) }} group by file_id
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not raw_tables %}
    select null::varchar as file_id, 0 as n where false
    {%- endif %}
),

rejects as (
    select file_id, count(*) as n from {{ source('raw', 'rejects') }} group by file_id
),

per_file as (
    select
        audit.*,
        coalesce(raw_rows.n, 0) as counted_rows,
        coalesce(rejects.n, 0) as counted_rejects
    from audit
    left join raw_rows using (file_id)
    left join rejects using (file_id)
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
        -- outside <source>/<YYYY-MM-DD>/: dated by the day their path names, else by when they landed
        count(*) filter (where status = 'refused') as files_refused,
        count(*) filter (where parse_path = 'exact') as files_exact_parsed,
        sum(size_bytes) as bytes_landed,
        -- lines of loaded files, header lines excluded, and what became of them
        coalesce(sum(lines - header_lines) filter (where status = 'loaded'), 0) as lines,
        coalesce(sum(counted_rows) filter (where status = 'loaded'), 0) as raw_rows,
        coalesce(sum(counted_rejects) filter (where status = 'loaded'), 0) as rejected_lines,
        coalesce(sum(counted_rows + counted_rejects) filter (where status <> 'loaded'), 0)
            as rows_of_unloaded_files,
        max(loaded_at) as last_loaded_at
    from per_file
    group by source, delivery_date
)

select
    *,
    lines - raw_rows - rejected_lines as lines_unaccounted
from daily
