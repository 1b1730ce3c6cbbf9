"""Partitions shared by assets, jobs, schedules and sensors."""

import warnings

import dagster as dg

from orchestration.settings import PARTITIONS_START

# Landing files are partitioned by delivery day; end_offset=1 so today's deliveries have a partition.
delivery_days = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)

# Billing periods are calendar months (each account's in its own zone; docs/billing.md), keyed by the
# month's first day; end_offset=1 so the month in progress can be drafted.
billing_months = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START[:8] + "01", end_offset=1)

# BackfillPolicy.single_run() is still labelled beta; a range of partitions is one run on purpose
# (docs/mediation.md, "Daily partitions").
warnings.filterwarnings("ignore", category=dg.BetaWarning)
