"""The DuckDB warehouse file: how to open it, and the tables Python writes in it.

One writer at a time: every Dagster asset that writes goes through `connect()` inside the `warehouse`
concurrency pool (limit 1), and dashboards never open this file (they read a published snapshot).

dbt builds every model; the tables Python writes are created and upgraded here, by `migrate()`, the one
migration step: the raw layer (ingestion), the archive of closed billing periods (the close) and the fraud
model's scores. Every writer runs it before it writes, and so does every dbt run (dbt reads these tables as
sources), so a new or older warehouse is brought up to date by whatever runs first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from orchestration.ingestion.layouts import LAYOUTS
from orchestration.settings import Paths

# DuckDB already parallelises each query; these keep a 2-core, 24 GB machine responsive and let big sorts spill.
DEFAULT_SETTINGS = {
    "threads": int(os.environ.get("TOLLHOUSE_DUCKDB_THREADS", os.cpu_count() or 2)),
    "memory_limit": os.environ.get("TOLLHOUSE_DUCKDB_MEMORY", "12GB"),
    "preserve_insertion_order": True,  # ingestion maps accepted CSV rows to line numbers by scan order
}


@contextmanager
def connect(path: Path, read_only: bool = False, in_memory: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse at `path`; `in_memory`: a throwaway warehouse of the same name (the compiled models name
    their catalog) held in memory, which writes tables about twice as fast as a file (measured, 7.5M rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new file gets the current storage format: with DuckDB 1.5 it writes raw text columns 25% faster than
    # the default 1.0-compatible format (measured, docs/ingestion.md). Every reader uses this DuckDB.
    if in_memory:
        con = duckdb.connect(":memory:")
        con.execute(f"attach ':memory:' as {sql_identifier(path.stem)}")
        con.execute(f"use {sql_identifier(path.stem)}")
    else:
        con = duckdb.connect(str(path), read_only=read_only, config={"storage_compatibility_version": "latest"})
    try:
        for key, value in DEFAULT_SETTINGS.items():
            con.execute(f"set {key} = ?", [value])
        con.execute("set temp_directory = ?", [str(path.parent / "tmp")])
        yield con
    finally:
        con.close()


RAW_AUDIT_DDL = """
create schema if not exists raw;
create table if not exists raw.load_audit (
    file_id       varchar primary key,  -- stable hash of source and landing path: same file, same id
    source        varchar not null,
    delivery_date date not null,
    path          varchar not null,     -- relative to the landing folder
    layout        varchar,              -- raw table the file loads into
    size_bytes    bigint not null,
    sha256        varchar not null,     -- of the bytes as delivered
    compression   varchar not null,     -- none | gzip
    lines         bigint,               -- physical lines after decompression, header included
    header_lines  integer,
    n_fields      integer,              -- detected column count (layout variant)
    rows_loaded   bigint not null,
    rows_rejected bigint not null,
    status        varchar not null check (status in ('loaded', 'redelivery', 'quarantined', 'refused')),
    reason        varchar,              -- why a file was quarantined or refused (not in a delivery-day folder)
    duplicate_of  varchar,              -- file_id of the first delivery, for a redelivery
    parse_path    varchar,              -- fast (DuckDB reader) | exact (line by line, odd files) | json
    loaded_at     timestamp not null,
    run_id        varchar
);
create table if not exists raw.rejects (
    file_id  varchar not null,
    source   varchar not null,
    line_no  bigint not null,
    reason   varchar not null,     -- docs/ingestion.md reject reasons: unparseable_row, wrong_column_count, ...
    detail   varchar,
    raw_line varchar               -- the original text (invalid bytes backslash-escaped)
);
"""


# The archive of closed periods (docs/billing.md: a closed period never changes). Python writes it
# (orchestration/billing/periods.py: close and re-open, each logged in period_log); dbt only reads it, so no
# dbt run, full refresh included, can touch a closed invoice. The columns are those of the drafted models,
# which the close copies by name.
BILLING_ARCHIVE_DDL = """
create schema if not exists billing;
create table if not exists billing.period_log (
    billing_period date not null,
    action         varchar not null check (action in ('close', 'reopen')),
    acted_at       timestamp not null,
    acted_by       varchar not null,
    reason         varchar,
    invoices       integer not null,
    totals         varchar not null  -- what the period's invoices added up to, per currency
);
create table if not exists billing.closed_invoices (
    invoice_number varchar primary key,
    account_id varchar not null, billing_period date not null, issue_date date not null, due_date date not null,
    currency varchar not null, subtotal decimal(18, 2) not null, tax_total decimal(18, 2) not null,
    total decimal(18, 2) not null, line_count integer not null, call_count bigint not null,
    account_name varchar, billing_email varchar, address_line1 varchar, city varchar, postcode varchar,
    country_code varchar, timezone varchar,
    closed_at timestamp not null
);
create table if not exists billing.closed_invoice_lines (
    invoice_number varchar not null, account_id varchar not null, billing_period date not null,
    line_no integer not null, line_type varchar not null, charge_type varchar, description varchar not null,
    reference varchar, quantity decimal(18, 6), unit varchar, unit_price decimal(18, 6),
    amount decimal(18, 2) not null, currency varchar not null, tax_name varchar, tax_rate decimal(9, 6),
    original_period date,
    primary key (invoice_number, line_no)
);
"""

# A call is on one invoice of its own period (usage, or a late call's adjustment), and on one more invoice for
# each later change of what it should be charged (an adjustment of the difference): the key is the invoice and
# the call. `rated_charge` is the call's rated cost in the account's currency (before bundles and tiers) that
# the row billed against, what the next change is measured from.
CLOSED_INVOICE_CALLS_DDL = """
create table if not exists billing.{name} (
    invoice_number varchar not null, account_id varchar not null, billing_period date not null,
    call_id varchar not null,
    answer_at timestamp, b_number varchar, destination varchar, call_type varchar,
    billable_seconds integer, billed_seconds integer, covered_seconds integer,
    charge decimal(18, 6), currency varchar, line_type varchar not null, original_period date,
    rated_charge decimal(18, 6),
    primary key (invoice_number, call_id)
);
"""

# What the fraud/scores asset writes (models/fraud/training.py); empty until a model has scored, so the alert
# models build before any model exists (then only the rules raise alerts).
FRAUD_DDL = """
create schema if not exists fraud;
create table if not exists fraud.model_scores (
    call_id varchar, model_score double, model_threshold double, model_version varchar
);
create table if not exists fraud.alert_decisions (
    alert_id varchar, status varchar, decided_by varchar, decided_at timestamp with time zone
);
"""

# Every table `migrate` owns outside the raw layer, to tell in one catalog query whether anything is missing.
_OWNED = (
    "billing.period_log", "billing.closed_invoices", "billing.closed_invoice_lines",
    "billing.closed_invoice_calls", "fraud.model_scores", "fraud.alert_decisions",
)  # fmt: skip


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables Python writes that do not exist yet and upgrade older ones in place; one catalog
    query when the warehouse is current. Idempotent: every writer and every dbt run calls it."""
    ensure_raw_schema(con)
    (missing,) = con.execute(
        "select count(*) from (select unnest($owned::varchar[]) as name) where name not in "
        "(select schema_name || '.' || table_name from duckdb_tables() where database_name = current_database())",
        {"owned": list(_OWNED)},
    ).fetchone()
    if missing:
        con.execute(BILLING_ARCHIVE_DDL + CLOSED_INVOICE_CALLS_DDL.format(name="closed_invoice_calls") + FRAUD_DDL)
    _allow_refused(con)
    _key_closed_calls_by_invoice(con)


def migrate_warehouse(data: Path) -> None:
    """`migrate` the warehouse of the data folder `data`, before a dbt run reads what Python writes."""
    with connect(Paths(data).warehouse) as con:
        migrate(con)


def _allow_refused(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse created before `refused` existed has the old status check; DuckDB cannot alter a check,
    so the audit table is rebuilt once under the current definition."""
    (checks,) = con.execute(
        "select string_agg(expression, ' ') from duckdb_constraints() where database_name = current_database() "
        "and schema_name = 'raw' and table_name = 'load_audit' and constraint_type = 'CHECK'"
    ).fetchone()
    if checks is None or "refused" in checks:
        return
    ddl = re.search(r"create table if not exists raw\.load_audit \(.*?\n\);", RAW_AUDIT_DDL, re.S)
    assert ddl is not None
    _rebuild(con, "raw", "load_audit", ddl[0].replace("if not exists raw.load_audit", "raw.load_audit_rebuilt"))


def _key_closed_calls_by_invoice(con: duckdb.DuckDBPyConnection) -> None:
    """An archive created before adjustments of billed calls keyed its calls by call_id alone and had no
    rated_charge: rebuilt once with the new key, its rows kept (their rated_charge unknown, null)."""
    (old,) = con.execute(
        "select count(*) from duckdb_constraints() where database_name = current_database() "
        "and schema_name = 'billing' and table_name = 'closed_invoice_calls' and constraint_type = 'PRIMARY KEY' "
        "and constraint_column_names = ['call_id']"
    ).fetchone()
    if old:
        ddl = CLOSED_INVOICE_CALLS_DDL.format(name="closed_invoice_calls_rebuilt")
        _rebuild(con, "billing", "closed_invoice_calls", ddl, by_name=True)


def _rebuild(con: duckdb.DuckDBPyConnection, schema: str, table: str, ddl: str, by_name: bool = False) -> None:
    """Replace `schema.table` by the table `ddl` creates (`<table>_rebuilt`), its rows copied, in one transaction."""
    con.execute("begin transaction")
    try:
        con.execute(ddl)
        con.execute(
            f"insert into {schema}.{table}_rebuilt {'by name ' if by_name else ''}select * from {schema}.{table}"
        )
        con.execute(f"drop table {schema}.{table}")
        con.execute(f"alter table {schema}.{table}_rebuilt rename to {table}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema's tables that do not exist yet (one catalog query when all do)."""
    (existing,) = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() and schema_name = 'raw'"
    ).fetchone()
    if existing == len(LAYOUTS) + 2:
        return
    con.execute(RAW_AUDIT_DDL)
    for layout in LAYOUTS:
        cols = ",\n".join(f'    "{name}" varchar' for name in layout.columns)
        con.execute(
            f"""create table if not exists raw.{layout.table} (
    file_id  varchar not null,
    line_no  bigint not null,
    n_fields integer not null,
{cols}
)"""
        )


def sql_literal(text: str | os.PathLike[str]) -> str:
    """`text` (a path, usually) as a SQL string literal, for the statements DuckDB binds no parameter in
    (CREATE VIEW, ATTACH): doubling quotes is the whole escape, backslashes mean nothing in a SQL string."""
    return "'" + os.fspath(text).replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """`name` as a quoted SQL identifier (a catalog named after a file)."""
    return '"' + name.replace('"', '""') + '"'


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """A query's rows as dicts keyed by column name."""
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
