-- RA-01 Switch-to-mediation completeness: per switch file, the lines that never became a call: rejected at
-- ingestion or validation (duplicates and blank lines are not lost usage), and every switch file
-- quarantined unread. Their value is unknown (an unreadable line has no price): leakage 0, the count in
-- evidence_calls and the reasons in the detail. Period: the month the file was delivered.
with lost as (
    select file_id, count(*) as lines, string_agg(distinct reason, ', ' order by reason) as reasons
    from {{ ref('fct_mediation_rejects') }}
    where stage <> 'deduplication' and reason <> 'blank_line'
    group by file_id
)

select
    {{ ra_finding('RA-01', "'lines_not_mediated'", 'null', "date_trunc('month', audit.delivery_date)", 'null',
                  'audit.path', 'null', 'null', '0', "'none'", '[]::varchar[]', 'lost.lines',
                  "lost.lines || ' line(s) of ' || audit.source || ' not mediated: ' || lost.reasons") }}
from lost
inner join {{ source('raw', 'load_audit') }} as audit using (file_id)

union all

select
    {{ ra_finding('RA-01', "case status when 'refused' then 'file_refused' else 'file_quarantined' end", 'null',
                  "date_trunc('month', delivery_date)", 'null', 'path',
                  'null', 'null', '0', "'none'", '[]::varchar[]', '0',
                  "source || ' file ' || status || ' unread: ' || coalesce(reason, 'no reason')") }}
from {{ source('raw', 'load_audit') }}
-- a refused file (outside <source>/<day>/, or of no known source) may hold any switch's calls
where (status = 'quarantined' and source in ('asterisk', 'freeswitch', 'carrier')) or status = 'refused'
