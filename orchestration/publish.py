"""Publishing: copy the marts the dashboards read into a Parquet snapshot, then switch to it atomically.

Dashboards never open the warehouse (a reader's lock would block the next run); they read
data/serving/CURRENT, which names the snapshot folder. A new snapshot is written in full under its own
version before CURRENT is replaced with os.replace, so a reader sees the old snapshot or the new one, never
half of one. The last few snapshots are kept so that a page rendering during a switch can finish.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime

import duckdb

from orchestration.settings import Paths

# Marts the dashboards read; each later capability adds its own.
SERVED_TABLES = ("marts.rpt_ingestion_daily", "marts.rpt_mediation_daily", "marts.fct_suspense")
KEEP_SNAPSHOTS = 3


def publish(con: duckdb.DuckDBPyConnection, paths: Paths, tables: tuple[str, ...] = SERVED_TABLES) -> dict:
    """Write every served table to a new snapshot and make it current. Returns the snapshot manifest."""
    now = datetime.now(UTC)
    version = now.strftime("%Y%m%dT%H%M%S%fZ")
    root = paths.serving
    folder = root / "snapshots" / version
    folder.mkdir(parents=True)
    rows = {}
    for table in tables:
        name = table.split(".")[-1]
        con.execute(f"copy (select * from {table}) to '{folder / name}.parquet' (format parquet)")
        rows[name] = con.execute(f"select count(*) from {table}").fetchone()[0]
    manifest = {"version": version, "published_at": now.isoformat(timespec="seconds"), "rows": rows}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    pointer = root / "CURRENT.tmp"
    pointer.write_text(version)
    os.replace(pointer, root / "CURRENT")
    for old in sorted((root / "snapshots").iterdir())[:-KEEP_SNAPSHOTS]:
        shutil.rmtree(old, ignore_errors=True)
    return manifest
