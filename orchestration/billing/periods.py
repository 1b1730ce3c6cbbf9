"""Closing and re-opening billing periods: the acts that freeze a period's invoices (docs/billing.md).

dbt drafts every open period's invoices (models/intermediate/billing). Closing a period copies its drafted
invoices, lines and itemised calls into the `billing` archive in one transaction and logs the act; from
then on the marts read that period from the archive, so no later run, re-rating or full refresh changes a
closed invoice; a call that arrives late for it, or a billed call that changes later (re-assembled,
re-rated, dropped), is billed as an adjustment in the next open period (int_closed_period_calls_adjusted), which the
next close freezes in turn.
Re-opening is explicit: it needs a reason, is logged with the totals it discards, and removes the period
from the archive so that the next close freezes it anew. The archive tables are created by the warehouse's
migration (orchestration/warehouse.py), which every dbt run and every close runs first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import duckdb

from orchestration.warehouse import migrate

# (archive table, drafted model it freezes): the close copies columns by name.
ARCHIVE = (
    ("billing.closed_invoices", "intermediate.int_invoices_drafted"),
    ("billing.closed_invoice_lines", "intermediate.int_invoice_lines_drafted"),
    ("billing.closed_invoice_calls", "intermediate.int_invoice_calls_drafted"),
)


class BillingActError(Exception):
    """A close or re-open that cannot be done, with the reason in words."""


@dataclass(frozen=True)
class PeriodAct:
    billing_period: date
    action: str  # close | reopen | none (already in the state asked for)
    invoices: int
    totals: dict[str, str]  # currency -> total of the period's invoices


def is_closed(con: duckdb.DuckDBPyConnection, period: date) -> bool:
    if not con.execute(
        "select count(*) from information_schema.tables where table_schema = 'billing' and table_name = 'period_log'"
    ).fetchone()[0]:
        return False  # nothing was ever billed here (dbt creates the archive)
    row = con.execute(
        "select arg_max(action, acted_at) from billing.period_log where billing_period = ?", [period]
    ).fetchone()
    return bool(row and row[0] == "close")


def _totals(con: duckdb.DuckDBPyConnection, table: str, period: date) -> tuple[int, dict[str, str]]:
    rows = con.execute(
        f"select currency, count(*), sum(total) from {table} where billing_period = ? group by 1 order by 1", [period]
    ).fetchall()
    return sum(n for _, n, _ in rows), {currency: str(total) for currency, _, total in rows}


def _log(con, period: date, action: str, acted_by: str, reason: str | None, invoices: int, totals: dict) -> None:
    con.execute(
        "insert into billing.period_log values (?, ?, now()::timestamp, ?, ?, ?, ?)",
        [period, action, acted_by, reason, invoices, json.dumps(totals, sort_keys=True)],
    )


def close_period(con: duckdb.DuckDBPyConnection, period: date, acted_by: str, reason: str | None = None) -> PeriodAct:
    """Freeze the period's drafted invoices. Closing a closed period changes nothing (idempotent)."""
    period = period.replace(day=1)
    migrate(con)
    con.execute("begin transaction")
    try:
        if is_closed(con, period):
            invoices, totals = _totals(con, "billing.closed_invoices", period)
            con.execute("rollback")
            return PeriodAct(period, "none", invoices, totals)
        for archive, drafted in ARCHIVE:
            con.execute(f"delete from {archive} where billing_period = ?", [period])
            stamp = ", now()::timestamp as closed_at" if archive.endswith("closed_invoices") else ""
            con.execute(
                f"insert into {archive} by name select *{stamp} from {drafted} where billing_period = ?", [period]
            )
        invoices, totals = _totals(con, "billing.closed_invoices", period)
        _log(con, period, "close", acted_by, reason, invoices, totals)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return PeriodAct(period, "close", invoices, totals)


def reopen_period(con: duckdb.DuckDBPyConnection, period: date, acted_by: str, reason: str) -> PeriodAct:
    """Open a closed period again: logged with who, why and the totals of the invoices it un-freezes."""
    period = period.replace(day=1)
    if not reason or not reason.strip():
        raise BillingActError("re-opening a closed period needs a reason")
    migrate(con)
    con.execute("begin transaction")
    try:
        if not is_closed(con, period):
            raise BillingActError(f"{period:%Y-%m} is not closed")
        invoices, totals = _totals(con, "billing.closed_invoices", period)
        for archive, _ in ARCHIVE:
            con.execute(f"delete from {archive} where billing_period = ?", [period])
        _log(con, period, "reopen", acted_by, reason.strip(), invoices, totals)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return PeriodAct(period, "reopen", invoices, totals)


def period_log(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select billing_period, action, acted_at, acted_by, reason, invoices, totals "
        "from billing.period_log order by acted_at"
    ).fetchall()
