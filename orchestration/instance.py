"""The Dagster instance tollhouse runs in: a folder under data/, so the UI shows CLI runs too."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from orchestration.settings import Paths

# One writer at a time on the DuckDB file: every writing asset is in the `warehouse` pool, limit 1.
DAGSTER_YAML = """\
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def ensure_dagster_home(paths: Paths) -> Path:
    """Point DAGSTER_HOME at data/dagster (unless set) and write its dagster.yaml once."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(paths.dagster_home)))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def get_instance(paths: Paths) -> dg.DagsterInstance:
    ensure_dagster_home(paths)
    return dg.DagsterInstance.get()


if __name__ == "__main__":  # `make ui`: prepare the instance folder before `dagster dev` reads it
    print(ensure_dagster_home(Paths.from_env()))
