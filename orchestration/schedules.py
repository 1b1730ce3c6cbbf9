"""Jobs and schedules data engineers run: the daily load of yesterday's deliveries."""

import dagster as dg

daily_load_job = dg.define_asset_job(
    name="daily_load",
    selection=dg.AssetSelection.groups("ingestion"),
    description="Load every source's files delivered on one day.",
)

# 02:30 UTC: after the switches' last hourly file of the previous day has been delivered.
daily_load_schedule = dg.build_schedule_from_partitioned_job(daily_load_job, hour_of_day=2, minute_of_hour=30)
