"""Data functions of the dashboards: plain functions over the published snapshot, callable from tests.

The app never opens the warehouse. It reads the snapshot named by data/serving/CURRENT, and caches by the
snapshot's version, so a new publish shows on the next rerun and an old one is never mixed with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.settings import Paths


@dataclass(frozen=True)
class Snapshot:
    version: str
    published_at: str
    folder: Path

    def table(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"


def current_snapshot(paths: Paths | None = None) -> Snapshot | None:
    root = (paths or Paths.from_env()).serving
    pointer = root / "CURRENT"
    if not pointer.exists():
        return None
    version = pointer.read_text().strip()
    folder = root / "snapshots" / version
    manifest = json.loads((folder / "manifest.json").read_text())
    return Snapshot(version, manifest["published_at"], folder)


def query(snapshot: Snapshot, sql: str, params: dict | None = None, **tables: str) -> pd.DataFrame:
    """Run SQL over snapshot tables, named as keyword arguments (alias=table); filters bound as parameters."""
    con = duckdb.connect()
    try:
        for alias, table in tables.items():
            con.execute(f"create view {alias} as select * from read_parquet('{snapshot.table(table)}')")
        return con.execute(sql, params or {}).df()
    finally:
        con.close()


def ingestion_totals(snapshot: Snapshot) -> dict[str, int]:
    row = query(
        snapshot,
        "select sum(files)::bigint as files, sum(lines)::bigint as lines, sum(raw_rows)::bigint as raw_rows, "
        "sum(rejected_lines)::bigint as rejected_lines, sum(files_quarantined)::bigint as files_quarantined, "
        "sum(files_redelivered)::bigint as files_redelivered from d",
        d="rpt_ingestion_daily",
    ).iloc[0]
    return {k: int(v) for k, v in row.items()}


def ingestion_by_day(snapshot: Snapshot, sources: list[str] | None = None) -> pd.DataFrame:
    return query(
        snapshot,
        "select delivery_date, source, files, lines, raw_rows, rejected_lines, files_quarantined, "
        "files_redelivered, lines_unaccounted from d "
        "where $sources is null or source in (select unnest($sources)) order by delivery_date, source",
        {"sources": sources},
        d="rpt_ingestion_daily",
    )


def mediation_totals(snapshot: Snapshot) -> dict[str, int]:
    """Records mediation received and what each became (the conservation the dbt tests enforce)."""
    row = query(
        snapshot,
        "select coalesce(sum(records_in), 0)::bigint as records, coalesce(sum(calls_out), 0)::bigint as calls, "
        "coalesce(sum(partials_merged), 0)::bigint as partials_merged, "
        "coalesce(sum(duplicates), 0)::bigint as duplicates, coalesce(sum(rejected), 0)::bigint as rejected, "
        "coalesce(sum(suspended), 0)::bigint as suspended, "
        "coalesce(sum(records_unaccounted), 0)::bigint as unaccounted from d",
        d="rpt_mediation_daily",
    ).iloc[0]
    return {k: int(v) for k, v in row.items()}


def suspense_by_reason(snapshot: Snapshot) -> pd.DataFrame:
    """Calls held in suspense per switch and reason, with how long the oldest has waited."""
    return query(
        snapshot,
        "select switch_id, reason, count(*) as calls, sum(billable_seconds)::bigint as billable_seconds, "
        "max(age_days) as oldest_days from s group by all order by calls desc",
        s="fct_suspense",
    )
