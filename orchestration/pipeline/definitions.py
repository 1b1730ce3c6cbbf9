"""The tollhouse Dagster code location: `dagster dev -m orchestration.pipeline.definitions` (`make ui`)."""

import dagster as dg

from orchestration.pipeline.assets.assurance import assurance_assets
from orchestration.pipeline.assets.billing import ARCHIVE_AS_DRAFTING_READS_IT, billing_assets
from orchestration.pipeline.assets.dbt import build_dbt_assets
from orchestration.pipeline.assets.fraud import fraud_assets
from orchestration.pipeline.assets.ingestion import audit_tables, raw_assets
from orchestration.pipeline.assets.serving import serving_snapshot
from orchestration.pipeline.resources import build_resources
from orchestration.pipeline.schedules import (
    assurance_job,
    assurance_schedule,
    billing_backfill_job,
    daily_load_job,
    daily_load_schedule,
    fraud_after_load,
    fraud_scoring_job,
    fraud_training_job,
    fraud_training_schedule,
    monthly_close_job,
    monthly_close_schedule,
)
from orchestration.pipeline.sensors import landing_sensor, run_recovery_sensor
from orchestration.settings import Paths


def build_definitions(paths: Paths) -> dg.Definitions:
    """The code location for one data folder: `dagster dev` loads `defs` (TOLLHOUSE_DATA_DIR's folder); the
    CLI runs its jobs from the same definitions with its own folder's resources."""
    return dg.Definitions(
        assets=[
            *raw_assets,
            *audit_tables,
            *build_dbt_assets(),
            *billing_assets,
            *ARCHIVE_AS_DRAFTING_READS_IT,
            *assurance_assets,
            *fraud_assets,
            serving_snapshot,
        ],
        jobs=[
            daily_load_job,
            monthly_close_job,
            billing_backfill_job,
            assurance_job,
            fraud_scoring_job,
            fraud_training_job,
        ],
        schedules=[daily_load_schedule, monthly_close_schedule, assurance_schedule, fraud_training_schedule],
        sensors=[landing_sensor, fraud_after_load, run_recovery_sensor],
        resources=build_resources(paths),
    )


defs = build_definitions(Paths.from_env())
