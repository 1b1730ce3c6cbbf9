"""Run tollhouse assets through Dagster from the command line: real runs, recorded in the instance the UI shows."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import dagster as dg

from orchestration.ingestion.layouts import SOURCES
from orchestration.ingestion.load import landed_day_folders
from orchestration.pipeline.assets.dbt import build_dbt_assets
from orchestration.pipeline.assets.ingestion import raw_asset_key
from orchestration.pipeline.instance import get_instance, recover_dead_runs, worker_tags
from orchestration.pipeline.partitions import delivery_days
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


class PartitionRangeError(ValueError):
    """Days or months a run was asked for that are not partitions of the code location."""


def check_partition_range(first: date, last: date) -> None:
    keys = delivery_days.get_partition_keys()
    if first.isoformat() < keys[0] or last.isoformat() > keys[-1]:
        raise PartitionRangeError(
            f"days {first}..{last} are outside the delivery-day partitions {keys[0]}..{keys[-1]} "
            f"({_partitions_start_hint()})"
        )


def _partition_range_tags(first: date, last: date) -> dict[str, str]:
    check_partition_range(first, last)
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


def _partitions_start_hint() -> str:
    from orchestration.pipeline.partitions import START_ENV, START_FILE

    return f"set {START_ENV} (or edit data/dagster/{START_FILE}) for older data"


@functools.cache
def _definitions(data: str) -> dg.Definitions:
    from orchestration.pipeline.definitions import build_definitions

    return build_definitions(Paths(Path(data)))


def job_def(paths: Paths, name: str) -> dg.JobDefinition:
    """The job `name` of the code location (the one `dagster dev` shows), with this data folder's resources."""
    return _definitions(str(paths.data)).resolve_job_def(name)


def run_job(
    paths: Paths,
    name: str,
    tags: dict[str, str],
    selection: Sequence[dg.AssetKey] | None = None,
    run_config: dict | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """A run of the named job (all of it, or the assets `selection` of it) in this process, recorded in the
    instance under the job's name, as a run the UI, a schedule or a sensor starts."""
    return job_def(paths, name).execute_in_process(
        run_config=run_config or QUIET_RUN_CONFIG,
        instance=_instance(paths),
        tags=_cli_tags(tags),
        asset_selection=list(selection) if selection is not None else None,
        raise_on_error=raise_on_error,
    )


def load_days(paths: Paths, first: date, last: date, sources: Sequence[str] = SOURCES) -> dg.ExecuteInProcessResult:
    """The raw assets of `sources` for every delivery day from `first` to `last`, in one `daily_load` run."""
    return run_job(paths, "daily_load", _partition_range_tags(first, last), [raw_asset_key(s) for s in sources])


def build_models(paths: Paths, first: date, last: date, full_refresh: bool = False) -> dg.ExecuteInProcessResult:
    """`dbt build` through Dagster (models become materializations, tests asset checks): the seeds and
    staging views, then mediation and the control marts for the delivery days `first`..`last` in one dbt
    run (suspense is re-evaluated whatever the days; `full_refresh` rebuilds them from every record), then
    the serving snapshot, which is skipped when the build or one of its tests failed. The rest of the
    `daily_load` job (its raw loads) is `load_days`."""
    from orchestration.pipeline.schedules import after_load

    daily = {"tollhouse_dbt_daily": {"config": {"full_refresh": full_refresh}}}
    reference = build_dbt_assets().reference
    return run_job(
        paths,
        "daily_load",
        _partition_range_tags(first, last),
        [*reference.keys, *after_load()],
        run_config={**QUIET_RUN_CONFIG, "ops": daily},
        raise_on_error=False,
    )


def failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    """`asset:check` for every asset check of the run that did not pass (once, whatever its partitions)."""
    return list(
        dict.fromkeys(
            f"{c.asset_key.to_user_string()}:{c.check_name}"
            for c in result.get_asset_check_evaluations()
            if not c.passed
        )
    )


def failed_check_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """`asset:check`, with the partitions it failed for, for every asset check of the run that did not pass."""
    failed: dict[str, list[str]] = {}
    for c in result.get_asset_check_evaluations():
        if not c.passed:
            failed.setdefault(f"{c.asset_key.to_user_string()}:{c.check_name}", []).append(c.partition or "")
    return [f"{check} ({', '.join(p for p in parts if p)})" if any(parts) else check for check, parts in failed.items()]


def check_status_by_partition(paths: Paths, asset: str, check_name: str) -> dict[str, bool]:
    """{partition: passed} of a partitioned asset check's latest evaluation per partition, from the instance
    (what the UI shows): e.g. `check_status_by_partition(paths, "raw/asterisk", "no_quarantined_files")`."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    key = dg.AssetCheckKey(dg.AssetKey(asset.split("/")), check_name)
    infos = get_instance(paths).event_log_storage.get_asset_check_partition_info([key])
    done = {AssetCheckExecutionRecordStatus.SUCCEEDED: True, AssetCheckExecutionRecordStatus.FAILED: False}
    return {
        info.partition_key: done[info.latest_execution_status]
        for info in sorted(infos, key=lambda i: i.partition_key or "")
        if info.partition_key and info.latest_execution_status in done
    }


def _billing_run(
    paths: Paths, first: date, last: date, close: bool, closed_by: str = "", reason: str = ""
) -> dg.ExecuteInProcessResult:
    from orchestration.pipeline.partitions import billing_months

    keys = billing_months.get_partition_keys()
    first_key, last_key = first.replace(day=1).isoformat(), last.replace(day=1).isoformat()
    if first_key < keys[0] or last_key > keys[-1]:
        raise PartitionRangeError(
            f"months {first_key[:7]}..{last_key[:7]} are outside the billing months {keys[0][:7]}..{keys[-1][:7]} "
            f"({_partitions_start_hint()})"
        )
    config = {"billing__period_close": {"config": {"closed_by": closed_by, "reason": reason}}} if close else {}
    return run_job(
        paths,
        "monthly_close" if close else "billing_backfill",
        {"dagster/asset_partition_range_start": first_key, "dagster/asset_partition_range_end": last_key},
        run_config={**QUIET_RUN_CONFIG, "ops": config},
        raise_on_error=False,
    )


def bill_months(paths: Paths, first: date, last: date) -> dg.ExecuteInProcessResult:
    """Re-run or backfill the billing months `first`..`last` in one `billing_backfill` run: open months'
    drafts rebuilt, closed months untouched (their documents re-rendered, identical)."""
    return _billing_run(paths, first, last, close=False)


def close_month(paths: Paths, month: date, closed_by: str, reason: str = "") -> dg.ExecuteInProcessResult:
    """The monthly close of one month (a `monthly_close` run): billed, frozen, rendered."""
    return _billing_run(paths, month, month, close=True, closed_by=closed_by, reason=reason)


def assure(paths: Paths) -> dg.ExecuteInProcessResult:
    """The revenue-assurance controls over every period the billing system exported, and the cases filed
    (a `revenue_assurance` run)."""
    return run_job(paths, "revenue_assurance", {}, raise_on_error=False)


def detect_fraud_runs(paths: Paths, train: bool, seed: int = 7) -> list[dg.ExecuteInProcessResult]:
    """The fraud features, (the model retrained when `train`: a `fraud_training` run), then every row scored,
    the alerts built and filed (a `fraud_scoring` run; after a training, without the features it built).
    A failed training stops there: the old model would score."""
    from orchestration.pipeline.assets.fraud import TrainingConfig
    from orchestration.pipeline.schedules import fraud_scoring

    if not train:
        return [run_job(paths, "fraud_scoring", {}, raise_on_error=False)]
    config = {**QUIET_RUN_CONFIG, "ops": {"fraud__model": {"config": TrainingConfig(seed=seed).model_dump()}}}
    trained = run_job(paths, "fraud_training", {}, run_config=config, raise_on_error=False)
    if not trained.success:
        return [trained]
    features = set(build_dbt_assets().fraud_features.keys)
    scoring = [key for key in fraud_scoring() if key not in features]
    return [trained, run_job(paths, "fraud_scoring", {}, scoring, raise_on_error=False)]


def detect_fraud(paths: Paths, train: bool, seed: int = 7) -> dg.ExecuteInProcessResult:
    """`detect_fraud_runs`' last run, or the one that failed."""
    return detect_fraud_runs(paths, train, seed)[-1]
