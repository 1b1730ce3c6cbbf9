-- Mediation's control totals per source and delivery day: the per-file conservation summed, beside the
-- lines raw ingestion already rejected, so one row reads from lines landed to calls out.
select
    conservation.source,
    conservation.delivery_date,
    count(*) as files,
    max(ingestion.rejected_lines) as lines_rejected_at_ingestion,
    sum(records_in) as records_in,
    sum(calls_out) as calls_out,
    sum(partials_merged) as partials_merged,
    sum(duplicates) as duplicates,
    sum(rejected) as rejected,
    sum(suspended) as suspended,
    sum(records_unaccounted) as records_unaccounted,
    sum(calls_unmatched) as calls_unmatched
from {{ ref('rpt_mediation_conservation') }} as conservation
left join {{ ref('rpt_ingestion_daily') }} as ingestion
    on ingestion.source = conservation.source and ingestion.delivery_date = conservation.delivery_date
group by conservation.source, conservation.delivery_date
