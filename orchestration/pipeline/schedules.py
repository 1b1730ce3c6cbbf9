"""Jobs and schedules data engineers run: the daily load and mediation of yesterday's deliveries, the
monthly close, and re-runs or backfills of billing months."""

from datetime import timedelta

import dagster as dg

from orchestration.pipeline.assets.assurance import CASES
from orchestration.pipeline.assets.billing import INVOICE_DOCUMENTS, PERIOD_CLOSE
from orchestration.pipeline.assets.dbt import build_dbt_assets
from orchestration.pipeline.assets.fraud import FILED, MODEL, SCORES
from orchestration.pipeline.assets.serving import SERVING
from orchestration.pipeline.instance import recover_in_tick


def after_load() -> list[dg.AssetKey]:
    """What a delivery day's load is followed by in the same run: the day's mediation and control marts,
    then the serving snapshot (published only when all their checks pass)."""
    daily_models = build_dbt_assets().daily
    return [*daily_models.keys, SERVING]


daily_load_job = dg.define_asset_job(
    name="daily_load",
    # the seeds and staging views too (unpartitioned, rebuilt in seconds): a new deployment's first run needs them
    selection=dg.AssetSelection.groups("ingestion")
    | dg.AssetSelection.assets(*build_dbt_assets().reference.keys, *after_load()),
    description="Load every source's files delivered on one day (or a range of days, in one run), mediate "
    "them and publish the snapshot. `tollhouse load` runs it in two parts: the loads, then the rest.",
)


@dg.schedule(
    job=daily_load_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 02:30 UTC, after the switches' last hourly file of the day before has been delivered, "
    "load and mediate that day (yesterday's partition; today's is still filling).",
)
def daily_load_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    recover_in_tick(context)  # a dead run's slot would hold the requested run back forever
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=f"daily_load:{day}")


def billing_run() -> list[dg.AssetKey]:
    """A re-run or backfill of billing months: the drafts rebuilt, closed months' documents re-rendered
    (identical files; closed invoices themselves are never touched), the snapshot published."""
    billing_models = build_dbt_assets().billing
    return [*billing_models.keys, INVOICE_DOCUMENTS, SERVING]


def monthly_close() -> list[dg.AssetKey]:
    """The month's billing rebuilt, its invoices frozen, then rendered."""
    return [*billing_run(), PERIOD_CLOSE]


monthly_close_job = dg.define_asset_job(
    name="monthly_close",
    selection=dg.AssetSelection.assets(*monthly_close()),
    description="Bill one month (drafts rebuilt from the rated calls), close it (invoices frozen, the act "
    "logged) and render its invoice documents.",
)

billing_backfill_job = dg.define_asset_job(
    name="billing_backfill",
    selection=dg.AssetSelection.assets(*billing_run()),
    description="Re-run or backfill billing months: open months' drafts rebuilt, closed months untouched "
    "and their documents re-rendered identically. A range of months is one run.",
)


def assurance_run() -> list[dg.AssetKey]:
    """The revenue-assurance controls over every period exported, then the cases filed and the snapshot
    published."""
    return [*build_dbt_assets().assurance.keys, CASES, SERVING]


assurance_job = dg.define_asset_job(
    name="revenue_assurance",
    selection=dg.AssetSelection.assets(*assurance_run()),
    description="Run every revenue-assurance control over the periods the billing system of record exported "
    "and file the findings into the analysts' cases (their edits are kept).",
)


@dg.schedule(
    job=monthly_close_job,
    cron_schedule="0 6 5 * *",
    execution_timezone="UTC",
    # a close freezes the month's invoices: finance turns it on once the operator's data is trusted
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="On the 5th at 06:00 UTC, bill and close the month before: the switches' late files of its "
    "last days have arrived (later ones are billed as adjustments in the next month).",
)
def monthly_close_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    recover_in_tick(context)  # a dead run's slot would hold the requested run back forever
    month = (context.scheduled_execution_time.replace(day=1) - timedelta(days=1)).replace(day=1).date()
    return dg.RunRequest(partition_key=month.isoformat(), run_key=f"monthly_close:{month:%Y-%m}")


@dg.schedule(
    job=assurance_job,
    cron_schedule="30 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 04:30 UTC, after the daily load: every revenue-assurance control over the periods exported "
    "so far, so the morning's findings and cases include yesterday's deliveries.",
)
def assurance_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    recover_in_tick(context)  # a dead run's slot would hold the requested run back forever
    return dg.RunRequest(run_key=f"revenue_assurance:{context.scheduled_execution_time:%Y-%m-%d}")


def fraud_scoring() -> list[dg.AssetKey]:
    """The fraud features over the rated calls, scored by the current model, the alerts built and filed,
    the snapshot published."""
    dbt = build_dbt_assets()
    return [*dbt.fraud_features.keys, SCORES, *dbt.fraud_alerts.keys, FILED, SERVING]


def fraud_training() -> list[dg.AssetKey]:
    return [*build_dbt_assets().fraud_features.keys, MODEL]


fraud_scoring_job = dg.define_asset_job(
    name="fraud_scoring",
    selection=dg.AssetSelection.assets(*fraud_scoring()),
    description="Fraud features of every rated call, scored by the current model; alerts built (rules and "
    "model, within the daily budget) and filed for the analysts.",
)

fraud_training_job = dg.define_asset_job(
    name="fraud_training",
    selection=dg.AssetSelection.assets(*fraud_training()),
    description="Retrain the fraud model on the current features; its card scores the analysts' decisions.",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_load_job],
    request_job=fraud_scoring_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="As soon as a load has mediated and rated new files, score them: fraud loses money by the hour.",
)
def fraud_after_load(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"fraud_scoring:{context.dagster_run.run_id}")


@dg.schedule(
    job=fraud_training_job,
    cron_schedule="0 7 5 * *",
    execution_timezone="UTC",
    # follows the close (stopped until it is turned on)
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Monthly, after the close: retrain the fraud model with the month's traffic and decisions.",
)
def fraud_training_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    recover_in_tick(context)  # a dead run's slot would hold the requested run back forever
    return dg.RunRequest(run_key=f"fraud_training:{context.scheduled_execution_time:%Y-%m}")
