"""Simulated operators for the integration tests: one home for the data folder, the simulation and the run.

- `data_folder()`: a fresh data folder on tmpfs that dbt and Dagster both use (TOLLHOUSE_DATA_DIR and
  DAGSTER_HOME point at it), removed afterwards.
- `simulated(folder, config)`: the simulator's files for `config`, simulated once per test session (the two
  xdist workers share one build through a file lock) and copied into `folder`: each module changes its own copy.
- `operator_month(mutate, ...)`: a clean simulated operator, changed by `mutate` before anything is loaded,
  run through the month (load, mediation, September's billing, the controls). The revenue-assurance and fraud
  modules read `marts.fct_leakage_findings` and compare with what their mutation must produce, worked out by
  hand from the files it changed.

A world costs a simulation and a pipeline run, and Dagster's cost grows with the delivery days in a run:
`through` drops the delivery days after the last one a test needs (for September's billing, the billing
export's day, 1 October).
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import hashlib
import os
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
REPO = Path(__file__).resolve().parents[1]
SHM = Path("/dev/shm")
# simulations shared by the session's workers, keyed by the config and the simulator's code
CACHE = Path(os.environ.get("TOLLHOUSE_WORLD_CACHE") or ((SHM if SHM.is_dir() else Path(tempfile.gettempdir()))
                                                          / f"tollhouse-worlds-{os.getuid()}"))  # fmt: skip


@contextmanager
def data_folder(prefix: str = "world", **env: str) -> Iterator[Paths]:
    """A fresh data folder on tmpfs for dbt and Dagster (and `env`), removed afterwards unless
    TOLLHOUSE_KEEP_WORLD is set (to iterate on SQL with dbt against it; delete it yourself)."""
    mp = pytest.MonkeyPatch()
    data = Path(tempfile.mkdtemp(prefix=f"tollhouse-{prefix}-", dir=SHM if SHM.is_dir() else None))
    mp.setenv("TOLLHOUSE_DATA_DIR", str(data))
    mp.setenv("DAGSTER_HOME", str(data / "dagster"))
    for name, value in env.items():
        mp.setenv(name, value)
    try:
        yield Paths(data)
    finally:
        mp.undo()
        if os.environ.get("TOLLHOUSE_KEEP_WORLD"):
            print(f"world kept in {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)


def _simulator_code() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "tools" / "simulator").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def simulated(folder: Path, config: SimulationConfig) -> Path:
    """Copy the simulator's files for `config` (its `out` aside) into `folder`: landing/ and ground_truth/.
    The first caller in the session simulates under a lock; the others wait and copy (a simulation is
    deterministic for its config and the simulator's code, both in the key)."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "out"}
    key = hashlib.sha256(f"{sorted(fields.items())}|{_simulator_code()}".encode()).hexdigest()[:16]
    built = CACHE / key
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (built / "DONE").exists():
            shutil.rmtree(built, ignore_errors=True)
            simulate(dataclasses.replace(config, out=built))
            (built / "DONE").write_text(repr(fields))
            _prune(keep=built)
        (built / "DONE").touch()  # last used
    for part in ("landing", "ground_truth"):
        shutil.copytree(built / part, folder / part, dirs_exist_ok=True)
    return folder


SWITCHES = ("asterisk", "freeswitch", "carrier")


def _prune(keep: Path, days: int = 2) -> None:
    """Remove the cached simulations unused for `days` (older configs, older simulator code)."""
    import time

    for done in CACHE.glob("*/DONE"):
        if done.parent != keep and time.time() - done.stat().st_mtime > days * 86400:
            shutil.rmtree(done.parent, ignore_errors=True)


def keep_days_through(paths: Paths, last: date, sources: tuple[str, ...] | None = None) -> None:
    """Remove the delivery folders after `last` (of `sources`, every source by default): days a test does not
    need."""
    for source in paths.landing.iterdir():
        if sources is not None and source.name not in sources:
            continue
        for day in source.iterdir():
            if day.is_dir() and day.name > last.isoformat() and day.name[:4].isdigit():
                shutil.rmtree(day)


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


STAGES = ("load", "build", "bill", "assure")


def run_month(paths: Paths, month: date = SEPTEMBER, stages: tuple[str, ...] = STAGES) -> dict:
    """Load and mediate every landed day, bill `month`, run the controls (the `stages` asked for, in that
    order); the Dagster results by stage."""
    from orchestration.pipeline.runs import assure, bill_months, build_models, landed_days, load_days

    days = landed_days(paths)
    steps = {
        "load": lambda: load_days(paths, days[0], days[-1]),
        "build": lambda: build_models(paths, days[0], days[-1]),
        "bill": lambda: bill_months(paths, month, month),
        "assure": lambda: assure(paths),
    }
    return {stage: steps[stage]() for stage in STAGES if stage in stages}


@contextmanager
def operator_month(
    mutate: Callable[[Paths], None] | None = None,
    *,
    seed: int = 7,
    calls_per_day: int = 300,
    fraud: str = "none",
    leakage: str = "none",
    months: int = 1,
    through: date | None = None,
    switches_through: date | None = None,
    stages: tuple[str, ...] = STAGES,
) -> Iterator[tuple[Paths, dict]]:
    """12 simulated accounts from September 2026 with no injected faults, changed by `mutate` before anything is
    loaded, run through `stages`. `leakage` applies the simulator's leakage families of that mix. September
    is billed only when a later day is delivered (the billing export lands on 1 October, payments after it):
    `months=2` for the billing side, with `through` the last delivery day the test needs (`switches_through`
    the switches' last day, when later files of other sources, such as payments, are needed)."""
    config = SimulationConfig(
        seed=seed, start=SEPTEMBER, months=months, accounts=12, calls_per_day=calls_per_day,
        inject_faults=False, fraud=fraud, leakage=leakage,
    )  # fmt: skip
    with data_folder("ra") as paths:
        simulated(paths.data, config)
        if through is not None:
            keep_days_through(paths, through)
        if switches_through is not None:
            keep_days_through(paths, switches_through, SWITCHES)
        if mutate is not None:
            mutate(paths)
        yield paths, run_month(paths, stages=stages)


def findings(paths: Paths, where: str = "true", params: list | None = None) -> list[dict]:
    """Rows of marts.fct_leakage_findings as dicts."""
    from orchestration.warehouse import connect

    with connect(paths.warehouse, read_only=True) as con:
        cursor = con.execute(f"select * from marts.fct_leakage_findings where {where} order by finding_id", params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
