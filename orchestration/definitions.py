"""The tollhouse Dagster code location: `dagster dev -m orchestration.definitions`."""

import dagster as dg

from orchestration.assets.ingestion import raw_assets
from orchestration.resources import WarehouseResource
from orchestration.schedules import daily_load_job, daily_load_schedule
from orchestration.sensors import landing_sensor
from orchestration.settings import Paths

defs = dg.Definitions(
    assets=[*raw_assets],
    jobs=[daily_load_job],
    schedules=[daily_load_schedule],
    sensors=[landing_sensor],
    resources={"warehouse": WarehouseResource(data_dir=str(Paths.from_env().data))},
)
