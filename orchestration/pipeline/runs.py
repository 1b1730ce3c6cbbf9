"""Run tollhouse assets through Dagster from the command line: real runs, recorded in the instance the UI shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import dagster as dg

from orchestration.ingestion.layouts import SOURCES
from orchestration.ingestion.load import landed_day_folders
from orchestration.pipeline.assets.dbt import build_dbt_assets
from orchestration.pipeline.assets.ingestion import raw_asset_key, raw_assets
from orchestration.pipeline.assets.serving import serving_snapshot
from orchestration.pipeline.instance import get_instance, recover_dead_runs, worker_tags
from orchestration.pipeline.partitions import delivery_days
from orchestration.pipeline.resources import build_resources
from orchestration.settings import Paths

# Dagster logs every step event at DEBUG; people running the CLI want the assets' own progress lines.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _instance(paths: Paths) -> dg.DagsterInstance:
    """The instance, once runs whose process died are failed and their pool slots freed: a CLI run would
    otherwise wait forever for the `warehouse` slot a killed run still holds."""
    instance = get_instance(paths)
    recover_dead_runs(instance)
    return instance


def _cli_tags(tags: dict[str, str]) -> dict[str, str]:
    """A CLI run's tags: what triggered it, and which process runs it (in-process), so that run recovery can
    tell it is alive."""
    return {**tags, "tollhouse/trigger": "cli", **worker_tags()}


def landed_days(paths: Paths) -> list[date]:
    """Every delivery day that has a landing folder, any source (folders not named as dates are ignored)."""
    return sorted({day for source in SOURCES for day in landed_day_folders(paths.landing, source)[0]})


def check_partition_range(first: date, last: date) -> None:
    keys = delivery_days.get_partition_keys()
    if first.isoformat() < keys[0] or last.isoformat() > keys[-1]:
        raise SystemExit(
            f"days {first}..{last} are outside the delivery-day partitions {keys[0]}..{keys[-1]} "
            "(set TOLLHOUSE_PARTITIONS_START for older data)"
        )


def _partition_range_tags(first: date, last: date) -> dict[str, str]:
    check_partition_range(first, last)
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


def load_days(paths: Paths, first: date, last: date, sources: Sequence[str] = SOURCES) -> dg.ExecuteInProcessResult:
    """Materialize the raw assets of `sources` for every delivery day from `first` to `last`, in one run."""
    return dg.materialize(
        raw_assets,
        selection=[raw_asset_key(s) for s in sources],
        instance=_instance(paths),
        resources=build_resources(paths),
        tags=_cli_tags(_partition_range_tags(first, last)),
        run_config=QUIET_RUN_CONFIG,
    )


def build_models(paths: Paths, first: date, last: date, full_refresh: bool = False) -> dg.ExecuteInProcessResult:
    """`dbt build` through Dagster (models become materializations, tests asset checks): the seeds and
    staging views, then mediation and the control marts for the delivery days `first`..`last` in one dbt
    run (suspense is re-evaluated whatever the days; `full_refresh` rebuilds them from every record), then
    the serving snapshot, which is skipped when the build or one of its tests failed."""
    daily = {"tollhouse_dbt_daily": {"config": {"full_refresh": full_refresh}}}
    reference, daily_models, *_ = build_dbt_assets()
    return dg.materialize(
        [reference, daily_models, serving_snapshot],
        instance=_instance(paths),
        resources=build_resources(paths),
        tags=_cli_tags(_partition_range_tags(first, last)),
        run_config={**QUIET_RUN_CONFIG, "ops": daily},
        raise_on_error=False,
    )


def failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    """`asset:check` for every asset check of the run that did not pass."""
    return [
        f"{c.asset_key.to_user_string()}:{c.check_name}" for c in result.get_asset_check_evaluations() if not c.passed
    ]


def _billing_run(
    paths: Paths, first: date, last: date, close: bool, closed_by: str = "", reason: str = ""
) -> dg.ExecuteInProcessResult:
    from orchestration.pipeline.assets.billing import billing_assets
    from orchestration.pipeline.partitions import billing_months
    from orchestration.pipeline.schedules import billing_run, monthly_close

    keys = billing_months.get_partition_keys()
    first_key, last_key = first.replace(day=1).isoformat(), last.replace(day=1).isoformat()
    if first_key < keys[0] or last_key > keys[-1]:
        raise SystemExit(f"months {first_key[:7]}..{last_key[:7]} are outside the billing months {keys[0][:7]}.."
                         f"{keys[-1][:7]} (set TOLLHOUSE_PARTITIONS_START for older data)")  # fmt: skip
    billing_models = build_dbt_assets().billing
    config = {"billing__period_close": {"config": {"closed_by": closed_by, "reason": reason}}} if close else {}
    return dg.materialize(
        [billing_models, *billing_assets, serving_snapshot],
        selection=monthly_close() if close else billing_run(),
        instance=_instance(paths),
        resources=build_resources(paths),
        tags=_cli_tags(
            {"dagster/asset_partition_range_start": first_key, "dagster/asset_partition_range_end": last_key}
        ),
        run_config={**QUIET_RUN_CONFIG, "ops": config},
        raise_on_error=False,
    )


def bill_months(paths: Paths, first: date, last: date) -> dg.ExecuteInProcessResult:
    """Re-run or backfill the billing months `first`..`last` in one run: open months' drafts rebuilt, closed
    months untouched (their documents re-rendered, identical)."""
    return _billing_run(paths, first, last, close=False)


def close_month(paths: Paths, month: date, closed_by: str, reason: str = "") -> dg.ExecuteInProcessResult:
    """The monthly close of one month: billed, frozen, rendered."""
    return _billing_run(paths, month, month, close=True, closed_by=closed_by, reason=reason)


def assure(paths: Paths) -> dg.ExecuteInProcessResult:
    """The revenue-assurance controls over every period the billing system exported, and the cases filed."""
    from orchestration.pipeline.assets.assurance import assurance_assets
    from orchestration.pipeline.schedules import assurance_run

    return dg.materialize(
        [build_dbt_assets().assurance, *assurance_assets, serving_snapshot],
        selection=assurance_run(),
        instance=_instance(paths),
        resources=build_resources(paths),
        tags=_cli_tags({}),
        run_config=QUIET_RUN_CONFIG,
        raise_on_error=False,
    )


def detect_fraud(paths: Paths, train: bool, seed: int = 7) -> dg.ExecuteInProcessResult:
    """The fraud features, (the model retrained when `train`), every row scored, the alerts built and filed."""
    from orchestration.pipeline.assets.fraud import MODEL, TrainingConfig, fraud_assets
    from orchestration.pipeline.schedules import fraud_scoring

    dbt = build_dbt_assets()
    selection = [*fraud_scoring(), *([MODEL] if train else [])]
    return dg.materialize(
        [dbt.fraud_features, dbt.fraud_alerts, *fraud_assets, serving_snapshot],
        selection=selection,
        instance=_instance(paths),
        resources=build_resources(paths),
        tags=_cli_tags({}),
        run_config={**QUIET_RUN_CONFIG, "ops": {"fraud__model": {"config": TrainingConfig(seed=seed).model_dump()}}}
        if train
        else QUIET_RUN_CONFIG,
        raise_on_error=False,
    )
