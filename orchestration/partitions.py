"""Partitions shared by assets, jobs, schedules and sensors."""

import warnings

import dagster as dg

from orchestration.settings import PARTITIONS_START

# Landing files are partitioned by delivery day; end_offset=1 so today's deliveries have a partition.
delivery_days = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)

# Billing periods are calendar months (each account's in its own zone; DESIGN.md section 6), keyed by the
# month's first day; end_offset=1 so the month in progress can be drafted.
billing_months = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START[:8] + "01", end_offset=1)

# BackfillPolicy.single_run() is still labelled beta; DESIGN.md section 9 relies on it deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
