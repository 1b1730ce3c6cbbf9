"""Jobs and schedules data engineers run: the daily load of yesterday's deliveries."""

from datetime import timedelta

import dagster as dg

daily_load_job = dg.define_asset_job(
    name="daily_load",
    selection=dg.AssetSelection.groups("ingestion"),
    description="Load every source's files delivered on one day.",
)


@dg.schedule(
    job=daily_load_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    description="At 02:30 UTC, after the switches' last hourly file of the day before has been delivered, "
    "load that day (yesterday's partition; today's is still filling).",
)
def daily_load_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=f"daily_load:{day}")
