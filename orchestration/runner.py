"""Run tollhouse assets through Dagster from the command line: real runs, recorded in the instance the UI shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import dagster as dg

from orchestration.assets.ingestion import raw_asset_key, raw_assets
from orchestration.instance import get_instance
from orchestration.layouts import SOURCES
from orchestration.partitions import delivery_days
from orchestration.resources import WarehouseResource
from orchestration.settings import Paths

# Dagster logs every step event at DEBUG; people running the CLI want the assets' own progress lines.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def landed_days(paths: Paths) -> list[date]:
    """Every delivery day that has a landing folder, any source."""
    days = {
        date.fromisoformat(day_dir.name)
        for source_dir in paths.landing.iterdir() if source_dir.is_dir()
        for day_dir in source_dir.iterdir() if day_dir.is_dir()
    } if paths.landing.is_dir() else set()  # fmt: skip
    return sorted(days)


def check_partition_range(first: date, last: date) -> None:
    keys = delivery_days.get_partition_keys()
    if first.isoformat() < keys[0] or last.isoformat() > keys[-1]:
        raise SystemExit(
            f"days {first}..{last} are outside the delivery-day partitions {keys[0]}..{keys[-1]} "
            "(set TOLLHOUSE_PARTITIONS_START for older data)"
        )


def load_days(
    paths: Paths, first: date, last: date, sources: Sequence[str] = SOURCES
) -> dg.ExecuteInProcessResult:
    """Materialize the raw assets of `sources` for every delivery day from `first` to `last`, in one run."""
    check_partition_range(first, last)
    return dg.materialize(
        raw_assets,
        selection=[raw_asset_key(s) for s in sources],
        instance=get_instance(paths),
        resources={"warehouse": WarehouseResource(data_dir=str(paths.data))},
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
            "tollhouse/trigger": "cli",
        },
        run_config=QUIET_RUN_CONFIG,
    )
