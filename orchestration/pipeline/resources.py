"""Dagster resources: the warehouse file and the folders around it, and dbt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.settings import Paths
from orchestration.warehouse import connect


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse and its data folder. Writers hold it inside the `warehouse` pool (limit 1)."""

    data_dir: str

    @property
    def paths(self) -> Paths:
        return Paths(Path(self.data_dir))

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.paths.warehouse, read_only=read_only) as con:
            yield con


def build_resources(paths: Paths) -> dict[str, object]:
    """Every resource the code location needs, for one data folder. dbt finds the same folder through
    TOLLHOUSE_DATA_DIR, so callers pass `Paths.from_env()` (or set the variable to `paths.data`)."""
    from orchestration.pipeline.assets.dbt import dbt_resource

    return {"warehouse": WarehouseResource(data_dir=str(paths.data)), "dbt": dbt_resource()}
