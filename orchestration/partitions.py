"""Partitions shared by assets, jobs, schedules and sensors."""

import dagster as dg

from orchestration.settings import PARTITIONS_START

# Landing files are partitioned by delivery day; end_offset=1 so today's deliveries have a partition.
delivery_days = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)
