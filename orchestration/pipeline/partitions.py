"""Partitions shared by assets, jobs, schedules and sensors.

They start at the operator's first data, not at a fixed date, so the UI does not list hundreds of days
before it as missing: TOLLHOUSE_PARTITIONS_START when set, else the start recorded in the instance folder
(`data/dagster/partitions_start`), else the first delivery day found under the landing area, which is then
recorded there (so the definitions stay the same whatever lands later, and the code server and the CLI
agree), else FALLBACK_START when nothing has landed yet (nothing is recorded then)."""

from __future__ import annotations

import os
import warnings
from datetime import date

import dagster as dg

from orchestration.ingestion.layouts import SOURCES
from orchestration.ingestion.load import landed_day_folders
from orchestration.settings import Paths

START_ENV = "TOLLHOUSE_PARTITIONS_START"
START_FILE = "partitions_start"
FALLBACK_START = "2026-01-01"


class PartitionsStartError(ValueError):
    pass


def _valid_day(text: str, where: str) -> str:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise PartitionsStartError(f"{where}: expected a date YYYY-MM-DD, got {text.strip()!r}") from None


def first_landed_day(paths: Paths) -> date | None:
    days = [days[0] for source in SOURCES if (days := landed_day_folders(paths.landing, source)[0])]
    return min(days, default=None)


def partitions_start(paths: Paths, environ: dict[str, str] | os._Environ = os.environ) -> str:
    """The first delivery day of the partitions (see the module's docstring), YYYY-MM-DD."""
    if environ.get(START_ENV):
        return _valid_day(environ[START_ENV], START_ENV)
    recorded = paths.dagster_home / START_FILE
    if recorded.is_file():
        return _valid_day(recorded.read_text(encoding="utf-8"), str(recorded))
    first = first_landed_day(paths)
    if first is None:
        return FALLBACK_START
    recorded.parent.mkdir(parents=True, exist_ok=True)
    recorded.write_text(f"{first.isoformat()}\n", encoding="utf-8")
    return first.isoformat()


PARTITIONS_START = partitions_start(Paths.from_env())

# Landing files are partitioned by delivery day; end_offset=1 so today's deliveries have a partition.
delivery_days = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)

# Billing periods are calendar months (each account's in its own zone; docs/billing.md), keyed by the
# month's first day, from the month of the first delivery day; end_offset=1 so the month in progress can be
# drafted.
billing_months = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START[:8] + "01", end_offset=1)

# BackfillPolicy.single_run() is still labelled beta; a range of partitions is one run on purpose
# (docs/mediation.md, "Daily partitions").
warnings.filterwarnings("ignore", category=dg.BetaWarning)
