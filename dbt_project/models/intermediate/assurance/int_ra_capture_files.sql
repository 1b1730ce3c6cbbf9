-- Every switch file of raw.load_audit with what its name says (RA-16, RA-17): the switch (`unit`, the name's
-- prefix), the UTC hour of `<switch>_<YYYYMMDD>T<HH>Z[_<n>]` names and the sequence number of `<switch>_<n>`
-- (or `..._<n>` after the hour). A name saying neither has a null hour and number: no sequence to check.
{{ config(materialized='view') }}
with files as (
    select
        audit.file_id, audit.source, audit.delivery_date, audit.path, audit.status, audit.duplicate_of,
        audit.rows_loaded, audit.lines,
        regexp_extract(names.stem, '^(.+?)[_-](\d{8}T\d{2})Z?(?:[_-](\d+))?$', ['stream', 'stamp', 'seq']) as hourly,
        regexp_extract(names.stem, '^(.+?)[_.-](\d+)$', ['stream', 'seq']) as numbered
    from {{ source('raw', 'load_audit') }} as audit,
        lateral (select regexp_replace(regexp_extract(audit.path, '[^/]*$'),
                                       '(\.(gz|csv|json|cdr|txt|log))+$', '') as stem) as names
    where audit.source in ('asterisk', 'freeswitch', 'carrier')
)

select
    file_id, source, delivery_date, path, status, duplicate_of, rows_loaded, lines,
    coalesce(nullif(hourly.stream, ''), nullif(numbered.stream, '')) as unit,
    try_strptime(nullif(hourly.stamp, ''), '%Y%m%dT%H') as hour_at,
    try_cast(case when hourly.stream <> '' then nullif(hourly.seq, '') else nullif(numbered.seq, '') end as bigint)
        as seq
from files
