"""Where tollhouse keeps its files. One place, driven by environment variables with repo-local defaults."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"  # the venv's, whether or not the venv is activated
# The profile target tollhouse runs dbt with: the warehouse named relative to the data folder, which is dbt's
# working directory (dbt_project/profiles.yml says why).
DBT_TARGET = "run"
# The project parsed once by `make manifest`: each dbt run starts from it (partial parsing).
DBT_PARTIAL_PARSE = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"


def default_data_dir() -> Path:
    return Path(os.environ.get("TOLLHOUSE_DATA_DIR", REPO_ROOT / "data")).resolve()


def seed_partial_parse(target_path: Path) -> None:
    """Give a dbt target folder the project's saved parse, so the run parses only what changed since."""
    target_path.mkdir(parents=True, exist_ok=True)
    if DBT_PARTIAL_PARSE.exists() and not (target_path / DBT_PARTIAL_PARSE.name).exists():
        shutil.copyfile(DBT_PARTIAL_PARSE, target_path / DBT_PARTIAL_PARSE.name)


def delivery_range_env(first: object, last: object) -> dict[str, str]:
    """The delivery days a dbt run mediates (inclusive ISO dates), as macros/delivery_days.sql reads them."""
    return {"TOLLHOUSE_DELIVERED_FROM": str(first), "TOLLHOUSE_DELIVERED_TO": str(last)}


def billing_range_env(first: object, last: object) -> dict[str, str]:
    """The billing months a dbt run bills (their first days, inclusive), as macros/billing.sql reads them."""
    return {"TOLLHOUSE_BILLING_FROM": str(first), "TOLLHOUSE_BILLING_TO": str(last)}


def run_dbt(
    data: Path, *args: str, env: dict[str, str] | None = None, target_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`dbt ARGS` on tollhouse's project against the warehouse in `data`, in a subprocess as Dagster runs it
    (dbt-duckdb in this process would keep the file open its own way), with `env` added to its environment
    (a run's range: `delivery_range_env`, `billing_range_env`), its artefacts under `target_path` (default
    `data/dbt_target`). Output is captured; the caller checks the return code."""
    from orchestration.warehouse import migrate_warehouse

    target_path = target_path or data / "dbt_target"
    seed_partial_parse(target_path)
    migrate_warehouse(data)  # the tables Python writes, which dbt reads as sources
    return subprocess.run(
        [str(DBT_EXECUTABLE), *args, "--target-path", str(target_path), "--target", DBT_TARGET,
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=data,
        env=os.environ | (env or {}) | {"TOLLHOUSE_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip


@dataclass(frozen=True)
class Paths:
    data: Path

    @property
    def landing(self) -> Path:
        return self.data / "landing"

    @property
    def ground_truth(self) -> Path:
        return self.data / "ground_truth"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse" / "tollhouse.duckdb"

    @property
    def serving(self) -> Path:
        """Published snapshots the dashboards read (orchestration/serving/publish.py), and the CURRENT pointer."""
        return self.data / "serving"

    @property
    def invoices(self) -> Path:
        """Rendered invoice documents and ERP exports, one folder per billing month (orchestration/billing/)."""
        return self.data / "invoices"

    @property
    def cases(self) -> Path:
        """The revenue-assurance case store, SQLite: analysts' work that every pipeline run leaves alone."""
        return self.data / "cases" / "cases.sqlite"

    @property
    def fraud_models(self) -> Path:
        """Trained fraud models (models/fraud/model.py), one file per version, and CURRENT naming the one in use."""
        return self.data / "models" / "fraud"

    @property
    def dagster_home(self) -> Path:
        return self.data / "dagster"

    @classmethod
    def from_env(cls) -> Paths:
        """From TOLLHOUSE_DATA_DIR (default: the repo's data/). The variable is rewritten as an absolute path:
        dbt reads it too, from its own working directory (dbt_project/), and must find the same folder."""
        data = default_data_dir()
        if "TOLLHOUSE_DATA_DIR" in os.environ:
            os.environ["TOLLHOUSE_DATA_DIR"] = str(data)
        return cls(data)


# First day any daily partition can have. Switch files older than this are out of scope for the demo
# operator; a real deployment sets it to its first day of data.
PARTITIONS_START = os.environ.get("TOLLHOUSE_PARTITIONS_START", "2026-01-01")
