"""Shared fixtures: small real warehouses in temporary folders, and one small simulated operator."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import Paths

# The partitions start at the first landed day of the data folder the code is imported with (the repo's
# data/ here, whatever a developer loaded there); the tests' worlds need a start before all of them.
os.environ.setdefault("TOLLHOUSE_PARTITIONS_START", "2026-01-01")

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """An empty data folder; TOLLHOUSE_DATA_DIR points at it so dbt and Dagster agree."""
    monkeypatch.setenv("TOLLHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    return Paths(tmp_path)


@pytest.fixture
def con(paths: Paths):
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(paths.warehouse))
    yield connection
    connection.close()


def land(paths: Paths, source: str, day: str, name: str, content: bytes) -> Path:
    """Write one landing file, as a switch or a feed would deliver it."""
    folder = paths.landing / source / day
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_bytes(content)
    return target


@pytest.fixture
def published(paths):
    """A small warehouse loaded and built through Dagster, with its serving snapshot published."""
    import streamlit as st

    from orchestration.pipeline.runs import build_models, load_days
    from tests.test_ingest import ast

    land(paths, "asterisk", "2026-10-01", "a_20261001T01Z.csv", f"{ast(uid='1')}\n{ast(uid='2')}\nbad\n".encode())
    land(paths, "freeswitch", "2026-10-02", "f_20261002T01Z.csv", b"")
    assert load_days(paths, date(2026, 10, 1), date(2026, 10, 2)).success
    assert build_models(paths, date(2026, 10, 1), date(2026, 10, 2)).success
    st.cache_data.clear()
    return paths
