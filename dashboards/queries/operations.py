"""Data operations: what landed and loaded, what each stage made of it, what waits in suspense, how fresh
each source is, and the pipeline's last runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from dashboards.data import Snapshot, query, scalar_row
from orchestration.settings import Paths

# Suspense ages as the data-operations page groups them (days held).
AGE_BUCKETS_SQL = """case when age_days <= 1 then '0-1 days' when age_days <= 3 then '2-3 days'
    when age_days <= 7 then '4-7 days' else 'over 7 days' end"""


def ingestion_totals(snapshot: Snapshot) -> dict[str, int]:
    row = scalar_row(
        query(
            snapshot,
            "select sum(files)::bigint as files, sum(lines)::bigint as lines, sum(raw_rows)::bigint as raw_rows, "
            "sum(rejected_lines)::bigint as rejected_lines, sum(files_quarantined)::bigint as files_quarantined, "
            "sum(files_redelivered)::bigint as files_redelivered from d",
            d="rpt_ingestion_daily",
        )
    )
    return {k: int(v) for k, v in row.items()}


def ingestion_by_day(snapshot: Snapshot, sources: list[str] | None = None) -> pd.DataFrame:
    return query(
        snapshot,
        "select delivery_date, source, files, lines, raw_rows, rejected_lines, files_quarantined, "
        "files_redelivered, lines_unaccounted from d "
        "where $sources is null or source in (select unnest($sources)) order by delivery_date, source",
        {"sources": sources or None},
        d="rpt_ingestion_daily",
    )


def sources(snapshot: Snapshot) -> list[str]:
    return list(query(snapshot, "select distinct source from d order by 1", d="rpt_ingestion_daily")["source"])


def mediation_totals(snapshot: Snapshot) -> dict[str, int]:
    """Records mediation received and what each became (the conservation the dbt tests enforce)."""
    row = scalar_row(
        query(
            snapshot,
            "select coalesce(sum(records_in), 0)::bigint as records, coalesce(sum(calls_out), 0)::bigint as calls, "
            "coalesce(sum(partials_merged), 0)::bigint as partials_merged, "
            "coalesce(sum(duplicates), 0)::bigint as duplicates, coalesce(sum(rejected), 0)::bigint as rejected, "
            "coalesce(sum(suspended), 0)::bigint as suspended, "
            "coalesce(sum(records_unaccounted), 0)::bigint as unaccounted from d",
            d="rpt_mediation_daily",
        )
    )
    return {k: int(v) for k, v in row.items()}


def stage_totals(snapshot: Snapshot) -> pd.DataFrame:
    """Per delivery day: lines landed, calls mediated, rated and billed (empty before the first billing
    run built the stage totals)."""
    if not snapshot.has("rpt_stage_totals_daily"):
        return pd.DataFrame()
    return query(snapshot, "select * from t order by delivery_date", t="rpt_stage_totals_daily")


def suspense_by_reason(snapshot: Snapshot) -> pd.DataFrame:
    """Calls held in mediation or rating suspense per stage, reason and age bucket, with the oldest's age."""
    parts, tables = [], {}
    for stage, table in (("mediation", "fct_suspense"), ("rating", "fct_rating_suspense")):
        if snapshot.has(table):
            parts.append(
                f"select '{stage}' as stage, reason, {AGE_BUCKETS_SQL} as age, count(*) as calls, "
                f"sum(billable_seconds)::bigint as billable_seconds, max(age_days) as oldest_days "
                f"from {stage} group by all"
            )
            tables[stage] = table
    if not parts:
        return pd.DataFrame(columns=["stage", "reason", "age", "calls", "billable_seconds", "oldest_days"])
    return query(snapshot, " union all ".join(parts) + " order by calls desc, stage, reason, age", **tables)


def rejects_by_reason(snapshot: Snapshot) -> pd.DataFrame:
    """Records mediation rejected (duplicates apart), per source, stage and reason."""
    return query(
        snapshot,
        "select source, stage, reason, count(*) as records, min(delivery_date) as first_day, "
        "max(delivery_date) as last_day from r group by all order by records desc",
        r="fct_mediation_rejects",
    )


def freshness(snapshot: Snapshot, now: datetime | None = None) -> pd.DataFrame:
    """Per source: the last delivery day loaded, when it was loaded, and how many hours ago that was."""
    frame = query(
        snapshot,
        "select source, max(delivery_date) as last_delivery_day, max(last_loaded_at) as last_loaded_at, "
        "sum(files)::bigint as files from d group by source order by source",
        d="rpt_ingestion_daily",
    )
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    frame["hours_since_load"] = ((now - pd.to_datetime(frame["last_loaded_at"])).dt.total_seconds() / 3600).round(1)
    return frame


def last_runs(paths: Paths, limit: int = 15) -> pd.DataFrame:
    """The Dagster instance's latest runs (the CLI's and the schedules'), newest first."""
    from orchestration.pipeline.instance import get_instance

    records = get_instance(paths).get_run_records(limit=limit)
    rows = []
    for record in records:
        run = record.dagster_run
        start, end = record.start_time, record.end_time
        first = run.tags.get("dagster/asset_partition_range_start")
        last = run.tags.get("dagster/asset_partition_range_end")
        rows.append(
            {
                "run": run.run_id[:8],
                "job": run.job_name,
                "status": run.status.value,
                "started": datetime.fromtimestamp(start, UTC).replace(tzinfo=None) if start else None,
                "minutes": round((end - start) / 60, 1) if start and end else None,
                "partitions": f"{first} .. {last}" if first else run.tags.get("dagster/partition", ""),
                "trigger": run.tags.get("tollhouse/trigger", "dagster"),
            }
        )
    return pd.DataFrame(rows, columns=["run", "job", "status", "started", "minutes", "partitions", "trigger"])
