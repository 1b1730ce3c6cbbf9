-- Every switch file of raw.load_audit with what its name says (RA-16, RA-17): the switch (`unit`, the name's
-- prefix), the UTC hour of `<switch>_<YYYYMMDD>T<HH>Z[_<n>]` names and the sequence number of `<switch>_<n>`
-- (or `..._<n>` after the hour). A name saying neither has a null hour and number: no sequence to check.
{{ config(materialized='view') }}
{{ ra_file_names(source('raw', 'load_audit')) }}
where source in ('asterisk', 'freeswitch', 'carrier')
