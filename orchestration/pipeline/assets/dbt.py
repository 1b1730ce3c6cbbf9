"""dbt models as Dagster assets (dagster-dbt); dbt tests become asset checks.

The manifest is prepared by the build (`make manifest`), not parsed here: importing this module never runs
dbt. dbt runs as a subprocess with the venv's own executable, and writes inside the `warehouse` pool. It is
started through orchestration/pipeline/dbt_child.py so that it dies with the run's process (a run killed with
`kill -9` must not leave dbt writing), and carries the run's id so that run recovery can find it.
"""

import functools
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from orchestration.pipeline.assets.ingestion import WAREHOUSE_POOL
from orchestration.pipeline.instance import RUN_ID_ENV
from orchestration.pipeline.partitions import billing_months, delivery_days
from orchestration.settings import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    DBT_TARGET,
    billing_range_env,
    default_data_dir,
    delivery_range_env,
)
from orchestration.warehouse import migrate_warehouse

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=DBT_TARGET)


def _layer(dbt_resource_props: Mapping[str, Any]) -> str:
    """models/<layer>/... for models; seeds are the `reference` layer (their schema)."""
    if dbt_resource_props["resource_type"] == "seed":
        return "reference"
    return Path(dbt_resource_props["original_file_path"]).parts[1]


def _domain(dbt_resource_props: Mapping[str, Any]) -> str:
    """The folder under models/<layer>/: the domain (mediation, rating, billing, assurance, fraud, customers,
    operations), for staging the source (crm, asterisk, ...); seeds are the reference data. Not `ingestion`,
    the raw tables' group, which the daily load job selects whole."""
    layer = _layer(dbt_resource_props)
    parts = Path(dbt_resource_props.get("original_file_path") or "").parts
    return parts[2] if layer != "reference" and len(parts) > 3 else layer


def _leading_comment(sql: str) -> str:
    """The `--` comment block a model's SQL starts with: what the model is, when its YAML says nothing."""
    lines = []
    for line in sql.lstrip().splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return " ".join(line for line in lines if line)


class TollhouseTranslator(DagsterDbtTranslator):
    """Models keyed by layer and name (marts/rpt_ingestion_daily), grouped by domain, described by their dbt
    description (not their SQL, dagster-dbt's default)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # raw tables: meta.dagster.asset_key
        return dg.AssetKey([_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_group_name(dbt_resource_props)
        return _domain(dbt_resource_props)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return (
            dbt_resource_props.get("description")
            or _leading_comment(dbt_resource_props.get("raw_code") or "")
            or f"dbt {dbt_resource_props['resource_type']} {dbt_resource_props['name']}"
        )


# `dbt build` without the unit tests: they check the SQL, not the data, and the test suite runs them once
# (tests/test_dbt_unit.py). A flag, not the environment, so that no other dbt this process starts skips them.
BUILD = ["build", "--exclude-resource-type", "unit_test"]

# Models rebuilt for the delivery days a run covers (tagged in dbt_project.yml): the mediation chain and
# the control marts. The rest (seeds, staging views) changes only with the project's code.
DAILY_MODELS = "tag:daily"
# Models rebuilt for the billing months a run covers: the billing chain and its marts.
BILLING_MODELS = "tag:billing"
# The revenue-assurance controls: rebuilt over every period the billing system exported, after billing.
ASSURANCE_MODELS = "tag:assurance"
# Fraud: the features and rules over every rated call; then, after the model scored them, the alerts.
FRAUD_MODELS = "tag:fraud"
FRAUD_ALERT_MODELS = "int_fraud_alerts_triggered fct_fraud_alerts"


class DbtAssets(NamedTuple):
    reference: dg.AssetsDefinition
    daily: dg.AssetsDefinition
    billing: dg.AssetsDefinition
    assurance: dg.AssetsDefinition
    fraud_features: dg.AssetsDefinition
    fraud_alerts: dg.AssetsDefinition


def _translator() -> TollhouseTranslator:
    # one raw asset per source loads several tables (raw/crm: accounts, subscriptions, ...)
    return TollhouseTranslator(settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))


class MediationConfig(dg.Config):
    full_refresh: bool = False
    """Rebuild the daily models from every delivered record, whatever the partition range: after an upgrade
    that changed their columns, or to repair days mediated out of delivery order."""


def _unpartitioned(name: str, select: str, what: str, exclude: str | None = None) -> dg.AssetsDefinition:
    """An unpartitioned asset set: one `dbt build` of the selection over everything the warehouse holds."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        select=select,
        exclude=exclude,
        dagster_dbt_translator=_translator(),
        pool=WAREHOUSE_POOL,
        name=name,
    )
    def models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        context.log.info(what)
        yield from dbt.cli(BUILD, context=context).stream()

    return models


@functools.cache
def build_dbt_assets() -> DbtAssets:
    """Six asset sets from one manifest: the models that change only with the code (reference seeds,
    staging views); the daily ones (mediation, rating and control marts), partitioned by delivery day; the
    billing ones, partitioned by billing month; and the revenue-assurance controls, unpartitioned: they
    compare every period the billing system of record exported, so one run covers them all; and the fraud
    features, then the fraud alerts, unpartitioned, on either side of the model's scoring. A range of
    days or months (a backfill, `tollhouse load --from --to`, `tollhouse backfill`) is one dbt run:
    single-run backfill policy."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        exclude=f"{DAILY_MODELS} {BILLING_MODELS} {ASSURANCE_MODELS} {FRAUD_MODELS}",
        dagster_dbt_translator=_translator(),
        pool=WAREHOUSE_POOL,
        name="tollhouse_dbt",
    )
    def tollhouse_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(BUILD, context=context).stream()

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        select=DAILY_MODELS,
        dagster_dbt_translator=_translator(),
        partitions_def=delivery_days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        name="tollhouse_dbt_daily",
    )
    def tollhouse_dbt_daily(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: MediationConfig):
        days = context.partition_key_range
        rebuilt = ", rebuilt from every record" if config.full_refresh else ""
        context.log.info(f"mediating delivery days {days.start}..{days.end}{rebuilt}")
        args = [*BUILD, *(["--full-refresh"] if config.full_refresh else [])]
        yield from dbt.cli(args, context=context, env=delivery_range_env(days.start, days.end)).stream()

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        select=BILLING_MODELS,
        dagster_dbt_translator=_translator(),
        partitions_def=billing_months,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        name="tollhouse_dbt_billing",
    )
    def tollhouse_dbt_billing(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        months = context.partition_key_range  # keys are the months' first days
        context.log.info(f"billing months {months.start}..{months.end}")
        yield from dbt.cli(BUILD, context=context, env=billing_range_env(months.start, months.end)).stream()

    assurance = _unpartitioned(
        "tollhouse_dbt_assurance",
        ASSURANCE_MODELS,
        "revenue-assurance controls over every period the billing system exported",
    )
    fraud_features = _unpartitioned(
        "tollhouse_dbt_fraud_features",
        FRAUD_MODELS,
        "fraud features and rules over every rated call",
        exclude=FRAUD_ALERT_MODELS,
    )
    fraud_alerts = _unpartitioned(
        "tollhouse_dbt_fraud_alerts", FRAUD_ALERT_MODELS, "fraud alerts from the rules and the model's scores"
    )
    return DbtAssets(tollhouse_dbt, tollhouse_dbt_daily, tollhouse_dbt_billing, assurance, fraud_features, fraud_alerts)


# Starts the venv's dbt so that it dies with the process that started it (Linux PR_SET_PDEATHSIG).
DBT_CHILD = Path(__file__).resolve().parents[1] / "dbt_child.py"


class TollhouseDbtResource(DbtCliResource):
    """dagster-dbt's resource, whose dbt processes die with the run's process and carry the run's id."""

    @functools.cached_property
    def _cli_version(self) -> version.Version:
        # dagster-dbt asks `dbt --version` in a subprocess before every invocation (about 6 s here); the
        # executable is this venv's dbt-core, whose version this process can read directly.
        from dbt.version import __version__

        return version.parse(__version__)

    def _initialize_dbt_core_adapter(self, args):
        # dagster-dbt loads the profile, the project and dbt's macros in this process before every invocation
        # (about 3.5 s here), for an adapter it uses only to fetch column metadata and row counts: tollhouse
        # fetches neither, and the invocation takes an absent adapter.
        return None

    def cli(self, args, *, context=None, env: dict[str, str] | None = None, **kwargs):
        """dagster-dbt's `cli`, with `env` added to the environment of this one dbt process (the run's range)."""
        migrate_warehouse(default_data_dir())  # the tables Python writes, which dbt reads as sources
        # dagster-dbt passes this process's environment to dbt (it starts dbt within `cli`); the wrapper reads these.
        os.environ.update(
            {
                "TOLLHOUSE_PYTHON": sys.executable,
                "TOLLHOUSE_DBT": str(DBT_EXECUTABLE),
                "TOLLHOUSE_DBT_PARENT": str(os.getpid()),
                "TOLLHOUSE_DBT_CWD": str(default_data_dir()),  # the profile's `run` target is relative to it
                RUN_ID_ENV: context.run.run_id if context is not None else "",
            }
        )
        saved = {name: os.environ.get(name) for name in env or {}}
        os.environ.update(env or {})
        try:
            return super().cli(args, context=context, **kwargs)
        finally:  # a range must not reach a later dbt process of this run (or of the next one)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def dbt_resource() -> DbtCliResource:
    """dbt from this venv (the venv need not be activated), through the wrapper. Its profile finds the
    warehouse through TOLLHOUSE_DATA_DIR, the same variable the warehouse resource is built from."""
    os.environ.setdefault("TOLLHOUSE_PYTHON", sys.executable)  # for calls other than `cli` (`--version`)
    os.environ.setdefault("TOLLHOUSE_DBT", str(DBT_EXECUTABLE))
    return TollhouseDbtResource(
        project_dir=dbt_project,
        profiles_dir=str(DBT_PROJECT_DIR),
        target=DBT_TARGET,
        dbt_executable=str(DBT_CHILD),
    )
