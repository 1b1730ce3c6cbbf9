-- RA-02 Mediation conservation: a switch file whose records in are not all accounted for (calls, merged
-- partials, duplicates, rejects, suspense). Such a leak is ours: the conservation test of
-- rpt_mediation_conservation fails the build as well; this writes it as a finding to work.
select
    {{ ra_finding('RA-02', "'records_unaccounted'", 'null', "date_trunc('month', audit.delivery_date)", 'null',
                  'audit.path', 'null', 'null', '0', "'none'", '[]::varchar[]', 'abs(c.records_unaccounted)',
                  "abs(c.records_unaccounted) || ' record(s) of the file unaccounted for'") }}
from {{ ref('rpt_mediation_conservation') }} as c
inner join {{ source('raw', 'load_audit') }} as audit using (file_id)
where c.records_unaccounted <> 0
