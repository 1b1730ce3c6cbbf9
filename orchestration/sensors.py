"""A sensor that loads newly landed files: one run per delivery day that gained or changed files."""

import hashlib
import json

import dagster as dg

from orchestration.assets.ingestion import raw_asset_key
from orchestration.layouts import SOURCES
from orchestration.resources import WarehouseResource


def landing_fingerprints(warehouse: WarehouseResource) -> dict[str, str]:
    """`source/day` -> hash of the names and sizes of the files in that folder."""
    fingerprints = {}
    landing = warehouse.paths.landing
    for source in SOURCES:
        folder = landing / source
        if not folder.is_dir():
            continue
        for day_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            listing = sorted((p.name, p.stat().st_size) for p in day_dir.iterdir() if p.is_file())
            fingerprints[f"{source}/{day_dir.name}"] = hashlib.sha256(repr(listing).encode()).hexdigest()[:16]
    return fingerprints


@dg.sensor(
    name="landing_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    asset_selection=[raw_asset_key(source) for source in SOURCES],
    description="Starts a load for each delivery day whose landing folders gained or changed files.",
)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    seen = json.loads(context.cursor) if context.cursor else {}
    current = landing_fingerprints(warehouse)
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
            asset_selection=[raw_asset_key(s) for s in sources],
            run_key="|".join(f"{s}/{day}:{changed[f'{s}/{day}']}" for s in sources),
            tags={"tollhouse/trigger": "landing_sensor"},
        )
        for day, sources in sorted(by_day.items())
    ]
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(current, sort_keys=True))
