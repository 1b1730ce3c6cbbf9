"""A small clean operator for hand-worked revenue-assurance and fraud scenarios.

`operator_month(mutate)` simulates 12 accounts for September 2026 with no injected faults, lets the test change
the landed files (drop a switch file, re-point a billed line, move a payment...), then runs the operator's
flow through Dagster: every delivery day loaded and mediated, September billed, the controls run. The test
then reads `marts.fct_leakage_findings` and compares with what its mutation must produce, worked out by hand
from the files it changed.

Put several mutations on different accounts into one world: each world costs a simulation and a pipeline run.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from orchestration.settings import Paths
from tools.simulator import SimulationConfig, simulate

SEPTEMBER = date(2026, 9, 1)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]], fieldnames: list[str] | None = None) -> None:
    """Rewrite a landed CSV with a header (the billing export's, payments', reference files' format)."""
    names = fieldnames or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def landed(paths: Paths, source: str, name: str) -> list[Path]:
    """Every landed file of `source` called `name` (any delivery day), oldest day first."""
    return sorted((paths.landing / source).glob(f"*/{name}"))


def run_month(paths: Paths, month: date = SEPTEMBER) -> dict:
    """Load and mediate every landed day, bill `month`, run the controls; the Dagster results by stage."""
    from orchestration.pipeline.runs import assure, bill_months, build_models, landed_days, load_days

    days = landed_days(paths)
    results = {
        "load": load_days(paths, days[0], days[-1]),
        "build": build_models(paths, days[0], days[-1]),
        "bill": bill_months(paths, month, month),
        "assure": assure(paths),
    }
    return results


@contextmanager
def operator_month(
    mutate: Callable[[Paths], None] | None = None,
    *,
    seed: int = 7,
    calls_per_day: int = 300,
    fraud: str = "none",
    leakage: str = "none",
    run: bool = True,
    keep: bool = False,
    months: int = 1,
) -> Iterator[tuple[Paths, dict]]:
    """A simulated clean September, changed by `mutate` before anything is loaded, run through the month.
    `leakage` applies the simulator's leakage families of that mix; `keep` leaves the folder in /dev/shm
    (to iterate on SQL with dbt against it; delete it yourself). September is billed only when a later day
    is delivered (the billing export lands on 1 October, payments after it): `months=2` for the billing side."""
    mp = pytest.MonkeyPatch()
    shm = Path("/dev/shm")
    data = Path(tempfile.mkdtemp(prefix="tollhouse-ra-", dir=shm if shm.is_dir() else None))
    mp.setenv("TOLLHOUSE_DATA_DIR", str(data))
    mp.setenv("DAGSTER_HOME", str(data / "dagster"))
    try:
        paths = Paths(data)
        config = SimulationConfig(
            seed=seed, start=SEPTEMBER, months=months, accounts=12, calls_per_day=calls_per_day, out=data,
            inject_faults=False, fraud=fraud, leakage=leakage,
        )  # fmt: skip
        simulate(config)
        if mutate is not None:
            mutate(paths)
        yield paths, (run_month(paths) if run else {})
    finally:
        mp.undo()
        if not keep:
            shutil.rmtree(data, ignore_errors=True)


def findings(paths: Paths, where: str = "true", params: list | None = None) -> list[dict]:
    """Rows of marts.fct_leakage_findings as dicts."""
    from orchestration.warehouse import connect

    with connect(paths.warehouse, read_only=True) as con:
        cursor = con.execute(f"select * from marts.fct_leakage_findings where {where} order by finding_id", params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
