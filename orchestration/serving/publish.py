"""Publishing: copy the marts the dashboards read into a Parquet snapshot, then switch to it atomically.

Dashboards never open the warehouse (a reader's lock would block the next run); they read
data/serving/CURRENT, which names the snapshot folder. A new snapshot is written in full under its own
version before CURRENT is replaced with os.replace, so a reader sees the old snapshot or the new one, never
half of one. The last few snapshots are kept so that a page rendering during a switch can finish.

Every run that ends in a publish (the daily load, billing, assurance, fraud scoring) copies every served
table the warehouse holds, so the snapshot is always one consistent state of the warehouse. A table not
built yet (no billing run so far, say) is left out and the pages that read it say so.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from typing import NamedTuple

import duckdb

from orchestration.settings import Paths


class Served(NamedTuple):
    relation: str  # schema.name in the warehouse; the snapshot file is <name>.parquet
    order_by: str = ""  # rows sorted so a page's filter on these columns reads few row groups


SERVED = (
    # data operations
    Served("marts.rpt_ingestion_daily"),
    Served("marts.rpt_mediation_daily"),
    Served("marts.rpt_stage_totals_daily"),
    Served("marts.fct_suspense"),
    Served("marts.fct_rating_suspense"),
    Served("marts.fct_mediation_rejects", "delivery_date, reason"),
    # revenue
    Served("marts.dim_accounts"),
    Served("marts.rpt_usage_daily", "call_date"),
    Served("marts.rpt_rating_margin"),
    Served("marts.dim_fx_rates"),  # amounts of several currencies shown in the reporting one
    # invoices and receivables
    Served("marts.fct_invoices"),
    Served("marts.fct_invoice_lines", "invoice_number, line_no"),
    Served("marts.fct_invoice_calls", "invoice_number, answer_at, call_id"),
    Served("marts.fct_receivables"),
    Served("marts.rpt_receivables_ageing"),
    # revenue assurance
    Served("marts.fct_leakage_findings"),
    Served("marts.rpt_leakage_evidence", "finding_id, start_at"),
    Served("marts.rpt_leakage_kpis"),
    Served("marts.rpt_control_coverage"),
    Served("marts.rpt_revenue_reconciliation"),
    # fraud
    Served("marts.fct_fraud_alerts"),
    Served("marts.fct_fraud_account_hours", "account_id, hour_at"),
)
SERVED_TABLES = tuple(served.relation for served in SERVED)
KEEP_SNAPSHOTS = 3


def _exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    query = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(query, [schema, name]).fetchone()[0] > 0


def _data_through(con: duckdb.DuckDBPyConnection) -> str | None:
    """The latest call the snapshot holds: the as-of time of its data (the publish time is another)."""
    if not _exists(con, "marts.fct_calls"):
        return None
    latest = con.execute("select max(start_at) from marts.fct_calls").fetchone()[0]
    return latest.isoformat(sep=" ", timespec="minutes") if latest else None


def publish(con: duckdb.DuckDBPyConnection, paths: Paths, served: tuple[Served, ...] = SERVED) -> dict:
    """Write every served table the warehouse holds to a new snapshot and make it current. Returns the
    snapshot's manifest: version, times, and rows per table."""
    now = datetime.now(UTC)
    version = now.strftime("%Y%m%dT%H%M%S%fZ")
    root = paths.serving
    folder = root / "snapshots" / version
    folder.mkdir(parents=True)
    rows = {}
    for table in served:
        if not _exists(con, table.relation):
            continue
        name = table.relation.split(".")[-1]
        order = f" order by {table.order_by}" if table.order_by else ""
        target = str(folder / f"{name}.parquet")  # bound: a data folder's name may hold quotes
        con.execute(f"copy (select * from {table.relation}{order}) to $target (format parquet)", {"target": target})
        rows[name] = con.execute("select count(*) from read_parquet($target)", {"target": target}).fetchone()[0]
    manifest = {
        "version": version,
        "published_at": now.isoformat(timespec="seconds"),
        "data_through": _data_through(con),
        "rows": rows,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    pointer = root / f"CURRENT.{version}.tmp"  # two runs publishing at once never share a temporary file
    pointer.write_text(version)
    os.replace(pointer, root / "CURRENT")
    for old in sorted((root / "snapshots").iterdir())[:-KEEP_SNAPSHOTS]:
        shutil.rmtree(old, ignore_errors=True)
    return manifest
