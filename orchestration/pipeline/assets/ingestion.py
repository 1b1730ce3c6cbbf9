"""Raw ingestion assets: one per landing source, partitioned by delivery day.

A run may cover one day (sensor, schedule) or a range of days (backfill, `tollhouse load`): the backfill
policy is a single run, and the asset loads the range in chunks of about 1 GB, each chunk one transaction
(orchestration/ingestion/load.py).
"""

import warnings
from datetime import date

import dagster as dg
import duckdb

from orchestration.ingestion.layouts import SOURCES, layouts_for
from orchestration.ingestion.load import DayLoad, LandedFile, ingest_days
from orchestration.pipeline.partitions import delivery_days
from orchestration.pipeline.resources import WarehouseResource

WAREHOUSE_POOL = "warehouse"

# The checks about a day's files are partitioned by delivery day (a preview feature of Dagster 1.13): each
# day keeps its own status, so a clean later day does not hide an earlier day's quarantined files.
warnings.filterwarnings("ignore", "Specifying a partitions_def on an AssetCheckSpec", dg.PreviewWarning)


def raw_asset_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source])


def conservation_breaks(con: duckdb.DuckDBPyConnection, source: str, days: list[date]) -> list[dict]:
    """Files of these days whose lines are not all accounted for: loaded files whose lines do not equal
    header + raw rows + rejects (recounted from the tables), and re-deliveries whose original is no longer
    loaded (their lines would be in no table). `day` is the file's delivery day."""
    row_counts = " union all ".join(
        f"select file_id, count(*) as n from raw.{layout.table} group by 1" for layout in layouts_for(source)
    )
    return [
        dict(zip(("path", "lines", "header_lines", "rows", "rejects", "day"), row, strict=True))
        for row in con.execute(
            f"""
            with rows_by_file as ({row_counts}),
            rejects_by_file as (select file_id, count(*) as n from raw.rejects group by 1)
            select a.path, a.lines, a.header_lines, coalesce(r.n, 0), coalesce(j.n, 0),
                   strftime(a.delivery_date, '%Y-%m-%d')
            from raw.load_audit a
            left join rows_by_file r using (file_id)
            left join rejects_by_file j using (file_id)
            where a.source = $source and (
                  (a.delivery_date in (select unnest($days::date[])) and a.status = 'loaded'
                   and coalesce(a.lines, 0) <> a.header_lines + coalesce(r.n, 0) + coalesce(j.n, 0))
                  -- on any day: re-loading these days may have removed the original another day's copy names
                  or (a.status = 'redelivery' and a.duplicate_of not in (
                      select file_id from raw.load_audit where status = 'loaded'))
              )
            order by a.path
            """,
            {"source": source, "days": days},
        ).fetchall()
    ]


def _by_day(items: list, day_of, days: list[str]) -> dict[str, list]:
    """`items` per delivery day of the run: an item of one of `days` goes to its day; one of another day
    (a misplaced file naming a day outside the run, a re-delivery whose original this run removed) to every
    day of the run, so that no run's checks pass over it."""
    grouped: dict[str, list] = {day: [] for day in days}
    for item in items:
        day = day_of(item)
        for target in [day] if day in grouped else days:
            grouped[target].append(item)
    return grouped


def check_evaluations(
    key: dg.AssetKey,
    source: str,
    days: list[str],
    loads: list[DayLoad],
    refused: list[LandedFile],
    breaks: list[dict],
) -> list[dg.AssetCheckEvaluation]:
    """Both checks once per delivery day of the run, each for its own partition: a clean later day passes
    while an earlier day's quarantined files keep that day's check failing. `refused`: the source's files
    outside its delivery-day folders (their day is the one their path names)."""
    quarantined = _by_day([f for load in loads for f in load.quarantined], lambda f: f.delivery_date.isoformat(), days)
    misplaced = _by_day(refused, lambda f: f.delivery_date.isoformat(), days)
    broken = _by_day(breaks, lambda b: b["day"], days)
    files_loaded = {load.delivery_date.isoformat(): load.count("loaded") for load in loads}
    evaluations = []
    for day in days:
        held_back = quarantined[day] + misplaced[day]
        evaluations += [
            dg.AssetCheckEvaluation(
                asset_key=key,
                check_name="lines_conserved",
                passed=not broken[day],
                partition=day,
                metadata={"delivery_day": day, "files_checked": files_loaded.get(day, 0), "breaks": broken[day][:20]},
            ),
            dg.AssetCheckEvaluation(
                asset_key=key,
                check_name="no_quarantined_files",
                passed=not held_back,
                partition=day,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "delivery_day": day,
                    "quarantined": len(quarantined[day]),
                    "refused": len(misplaced[day]),
                    "files": [f"{f.rel_path}: {f.reason}" for f in held_back[:20]],
                },
                description=f"{day}: {len(quarantined[day])} {source} file(s) could not be read and were "
                f"quarantined, {len(misplaced[day])} lie outside a delivery-day folder and were refused",
            ),
        ]
    return evaluations


def build_raw_asset(source: str) -> dg.AssetsDefinition:
    key = raw_asset_key(source)

    @dg.asset(
        key=key,
        group_name="ingestion",
        partitions_def=delivery_days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        # A second process holding the DuckDB file (someone's ad-hoc query) makes the open fail; try again later.
        retry_policy=dg.RetryPolicy(max_retries=2, delay=30),
        kinds={"duckdb"},
        description=f"Lines of the {source} files delivered that day, one raw row or one reject each.",
        check_specs=[
            dg.AssetCheckSpec(
                "lines_conserved",
                asset=key,
                partitions_def=delivery_days,
                description="lines = header + raw rows + rejects, for every loaded file of the day",
            ),
            dg.AssetCheckSpec(
                "no_quarantined_files",
                asset=key,
                partitions_def=delivery_days,
                description="no file of the day was unreadable (corrupt gzip, unknown layout) or refused "
                "(outside <source>/<YYYY-MM-DD>/)",
            ),
        ],
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        days = [date.fromisoformat(k) for k in context.partition_keys]
        with warehouse.connect() as con:
            loads = ingest_days(con, warehouse.paths.landing, source, days, context.run.run_id, context.log.info)
            for load in loads:  # the days worth reading about, in the run's log; the chunk lines give progress
                if load.rejects or load.count("redelivery") or load.quarantined:
                    context.log.debug(
                        f"{source} {load.delivery_date}: {len(load.files)} files, {load.lines} lines -> "
                        f"{load.rows} rows + {load.rejects} rejects; {load.count('redelivery')} re-delivered, "
                        f"{len(load.quarantined)} quarantined"
                    )
                for f in load.quarantined:
                    context.log.error(f"quarantined {f.rel_path}: {f.reason}")
            # Misplaced files: the source's own fail its check; those of no known source belong to no asset,
            # so every load names them (and the audit lists them) until they are moved or removed.
            refused = [f for f in loads.refused if f.source == source]
            elsewhere = [f for f in loads.refused if f.source not in SOURCES]
            for f in refused:
                context.log.error(f"refused {f.rel_path}: {f.reason}")
            if elsewhere:
                context.log.warning(
                    f"{len(elsewhere)} file(s) under the landing area belong to no source and load nowhere: "
                    + "; ".join(f"{f.rel_path} ({f.reason.split(':')[0]})" for f in elsewhere[:20])
                )
            breaks = conservation_breaks(con, source, days)
        yield dg.MaterializeResult(
            metadata={
                "days": len(days),
                "files": sum(len(load.files) for load in loads),
                "lines": sum(load.lines for load in loads),
                "rows": sum(load.rows for load in loads),
                "rejects": sum(load.rejects for load in loads),
                "redeliveries": sum(load.count("redelivery") for load in loads),
                "quarantined": sum(len(load.quarantined) for load in loads),
                "refused": len(refused),
                "refused_files": [f"{f.rel_path}: {f.reason}" for f in refused[:20]],
                "refused_outside_sources": [f"{f.rel_path}: {f.reason}" for f in elsewhere[:20]],
            },
        )
        # One evaluation per day (partitioned checks): AssetCheckResult would give a range run one evaluation
        # with no partition. Each check's output is then yielded once, as the op requires.
        selected = context.selected_asset_check_keys
        for evaluation in check_evaluations(key, source, context.partition_keys, loads, refused, breaks):
            if evaluation.asset_check_key in selected:
                yield evaluation
        for check_key in selected:
            yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))

    return _raw


raw_assets = [build_raw_asset(source) for source in SOURCES]

# Every source's load writes its files' audit rows and its rejected lines into these two tables, so no one asset
# materializes them; declared here with every raw asset upstream, so the models that read them (file
# attribution, the ingestion report, the capture controls) show where their rows come from.
audit_tables = [
    dg.AssetSpec(
        dg.AssetKey(["raw", table]),
        deps=[raw_asset_key(source) for source in SOURCES],
        group_name="ingestion",
        description=description,
    )
    for table, description in (
        ("load_audit", "One row per landed file of any source: what was loaded, refused or quarantined, and why."),
        ("rejects", "One row per rejected line of any landed file, with its reason and the original text."),
    )
]
