"""Jobs and schedules data engineers run: the daily load and mediation of yesterday's deliveries."""

from datetime import timedelta

import dagster as dg

from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.serving import serving_snapshot


def after_load() -> list[dg.AssetKey]:
    """What a delivery day's load is followed by in the same run: the day's mediation and control marts,
    then the serving snapshot (published only when all their checks pass)."""
    _, daily_models = build_dbt_assets()
    return [*daily_models.keys, serving_snapshot.key]


daily_load_job = dg.define_asset_job(
    name="daily_load",
    selection=dg.AssetSelection.groups("ingestion") | dg.AssetSelection.assets(*after_load()),
    description="Load every source's files delivered on one day, mediate them and publish the snapshot.",
)


@dg.schedule(
    job=daily_load_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    description="At 02:30 UTC, after the switches' last hourly file of the day before has been delivered, "
    "load and mediate that day (yesterday's partition; today's is still filling).",
)
def daily_load_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=f"daily_load:{day}")
