"""A sensor that loads and mediates newly landed files: one run per delivery day that gained or changed files."""

import hashlib
import json

import dagster as dg

from orchestration.ingestion.layouts import SOURCES
from orchestration.ingestion.load import landed_day_folders
from orchestration.pipeline.assets.ingestion import raw_asset_key
from orchestration.pipeline.instance import recover_in_tick
from orchestration.pipeline.partitions import delivery_days
from orchestration.pipeline.resources import WarehouseResource
from orchestration.pipeline.schedules import after_load


def landing_fingerprints(warehouse: WarehouseResource, log=None) -> dict[str, str]:
    """`source/day` -> hash of the names and sizes of the files in that folder, for every folder that is a
    delivery-day partition. Other folders (not a date, or outside the partitions) are skipped with a warning:
    asking for a partition that does not exist would fail every tick and stop all loading."""
    valid = set(delivery_days.get_partition_keys())
    fingerprints = {}
    for source in SOURCES:
        days, strays = landed_day_folders(warehouse.paths.landing, source)
        strays += [warehouse.paths.landing / source / d.isoformat() for d in days if d.isoformat() not in valid]
        for stray in strays:
            if log:
                log.warning(f"skipping {stray}: not a delivery-day partition (YYYY-MM-DD within the partitions)")
        for day in (d for d in days if d.isoformat() in valid):
            day_dir = warehouse.paths.landing / source / day.isoformat()
            listing = sorted((p.name, p.stat().st_size) for p in day_dir.iterdir() if p.is_file())
            fingerprints[f"{source}/{day}"] = hashlib.sha256(repr(listing).encode()).hexdigest()[:16]
    return fingerprints


@dg.sensor(
    name="landing_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    asset_selection=[*(raw_asset_key(source) for source in SOURCES), *after_load()],
    description="Starts a load and mediation for each delivery day whose landing folders gained or changed files.",
)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    recover_in_tick(context)  # a dead run's slot would hold every load it requests back forever
    seen = json.loads(context.cursor) if context.cursor else {}
    current = landing_fingerprints(warehouse, context.log)
    changed = {key: fp for key, fp in current.items() if seen.get(key) != fp}
    if not changed:
        return dg.SkipReason("no new landing files")
    by_day: dict[str, list[str]] = {}
    for key in sorted(changed):
        source, day = key.split("/")
        by_day.setdefault(day, []).append(source)
    requests = [
        dg.RunRequest(
            partition_key=day,
            asset_selection=[*(raw_asset_key(s) for s in sources), *after_load()],
            run_key="|".join(f"{s}/{day}:{changed[f'{s}/{day}']}" for s in sources),
            tags={"tollhouse/trigger": "landing_sensor"},
        )
        for day, sources in sorted(by_day.items())
    ]
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(current, sort_keys=True))


@dg.sensor(
    name="run_recovery_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails runs whose process died (killed, crashed) and frees the `warehouse` pool slot they "
    "held, so loads, billing and the UI's materializations do not wait for them forever.",
)
def run_recovery_sensor(context: dg.SensorEvaluationContext):
    failed = recover_in_tick(context)
    return dg.SkipReason(f"failed {len(failed)} dead run(s): {', '.join(failed)}" if failed else "no dead runs")
