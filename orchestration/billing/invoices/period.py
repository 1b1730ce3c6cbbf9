"""A billing period's documents from the warehouse (marts.fct_invoices, fct_invoice_lines, fct_invoice_calls and
fct_gl_journal): each invoice's HTML, PDF and calls CSV, the period's line exports and ledger journal, under
<out_dir>/<YYYY-MM>/. Deterministic (ordered queries, no clock), so re-rendering a closed period reproduces its
documents exactly and rewrites nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from orchestration.billing.invoices.exports import (
    LINE_COLUMNS,
    export_calls_csv,
    export_gl_csv,
    export_lines_csv,
    export_lines_json,
    write_if_changed,
)
from orchestration.billing.invoices.html import render_invoice_html
from orchestration.billing.invoices.pdf import render_invoice_pdf
from orchestration.warehouse import fetch_dicts

CALL_COLUMNS = ("invoice_number", "account_id", "billing_period", "call_id", "answer_at", "b_number", "destination",
                "call_type", "billable_seconds", "billed_seconds", "covered_seconds", "charge", "line_type",
                "original_period")  # fmt: skip
INVOICE_COLUMNS = ("invoice_number", "account_id", "billing_period", "status", "issue_date", "due_date", "currency",
                   "subtotal", "tax_total", "total", "line_count", "call_count", "account_name", "billing_email",
                   "address_line1", "city", "postcode", "country_code", "closed_at")  # fmt: skip
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CALLS_BATCH = 10_000


def _invoice_filter(statuses: Sequence[str]) -> str:
    if not statuses:
        raise ValueError("statuses must name at least one invoice status")
    return f"i.billing_period = ? and i.status in ({', '.join('?' for _ in statuses)})"


def fetch_lines(
    con: duckdb.DuckDBPyConnection,
    billing_period: date,
    statuses: Sequence[str] = ("closed",),
    invoice_number: str | None = None,
) -> list[dict[str, Any]]:
    """The invoice lines of a period (or of one invoice in it) with their invoice's status, for the exports."""
    columns = ", ".join("i.status" if c == "status" else f"l.{c}" for c in LINE_COLUMNS)
    sql = (
        f"select {columns} from marts.fct_invoice_lines l join marts.fct_invoices i "
        f"on i.invoice_number = l.invoice_number where {_invoice_filter(statuses)}"
    )
    params: list[Any] = [billing_period, *statuses]
    if invoice_number is not None:
        sql += " and i.invoice_number = ?"
        params.append(invoice_number)
    return fetch_dicts(con, sql + " order by l.invoice_number, l.line_no", params)


def _relation_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str, columns: Sequence[str] = ()) -> bool:
    found = con.execute(
        "select count(*), count(distinct column_name) filter (where column_name in (select unnest(?))) "
        "from information_schema.columns where table_schema = ? and table_name = ?",
        [list(columns), schema, name],
    ).fetchone()
    return found[0] > 0 and found[1] == len(set(columns))


def account_timezones(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each account's IANA zone from staging.stg_crm__accounts; empty when that relation is not built (then the
    documents show UTC)."""
    if not _relation_exists(con, "staging", "stg_crm__accounts", ("account_id", "timezone")):
        return {}
    rows = con.execute(
        "select account_id, max(timezone) from staging.stg_crm__accounts where timezone is not null group by account_id"
    ).fetchall()
    return dict(rows)


def _call_groups(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> Iterator[tuple[str, list[dict]]]:
    """The period's calls, one invoice at a time, fetched in batches so a large period never sits in memory."""
    columns = ", ".join(f"c.{c}" for c in CALL_COLUMNS)
    cursor = con.execute(
        f"select {columns} from marts.fct_invoice_calls c join marts.fct_invoices i "
        f"on i.invoice_number = c.invoice_number where {where} order by c.invoice_number, c.answer_at, c.call_id",
        params,
    )
    current: str | None = None
    group: list[dict] = []
    while batch := cursor.fetchmany(CALLS_BATCH):
        for row in batch:
            call = dict(zip(CALL_COLUMNS, row, strict=True))
            if call["invoice_number"] != current:
                if group:
                    yield current, group
                current, group = call["invoice_number"], []
            group.append(call)
    if group:
        yield current, group


def render_period(
    con: duckdb.DuckDBPyConnection, billing_period: date, out_dir: Path, statuses: Sequence[str] = ("closed",)
) -> list[Path]:
    """Render the period's invoices with the given statuses: out_dir/YYYY-MM/<invoice_number>.html and .pdf,
    and the period's invoice_lines.csv and invoice_lines.json. Files whose content is unchanged are not
    rewritten. Returns every document's path, sorted."""
    statuses = tuple(statuses)
    where = _invoice_filter(statuses)
    params: list[Any] = [billing_period, *statuses]
    columns = ", ".join(f"i.{c}" for c in INVOICE_COLUMNS)
    invoices = {
        row["invoice_number"]: row
        for row in fetch_dicts(
            con, f"select {columns} from marts.fct_invoices i where {where} order by i.invoice_number", params
        )
    }
    for number in invoices:
        if not SAFE_NAME.fullmatch(number):
            raise ValueError(f"invoice number {number!r} cannot be a file name")
    lines = fetch_lines(con, billing_period, statuses)
    lines_by_invoice: dict[str, list[dict]] = {}
    for line in lines:
        lines_by_invoice.setdefault(line["invoice_number"], []).append(line)
    zones = account_timezones(con)
    folder = Path(out_dir) / f"{billing_period:%Y-%m}"
    paths: list[Path] = []

    def render(number: str, calls: list[dict]) -> None:
        invoice = invoices[number]
        zone = zones.get(invoice["account_id"], "UTC")
        invoice_lines = lines_by_invoice.get(number, [])
        html_path, pdf_path = folder / f"{number}.html", folder / f"{number}.pdf"
        write_if_changed(html_path, render_invoice_html(invoice, invoice_lines, calls, zone).encode())
        write_if_changed(pdf_path, render_invoice_pdf(invoice, invoice_lines, calls, zone))
        calls_path = folder / f"{number}-calls.csv"
        write_if_changed(calls_path, export_calls_csv(calls, zone).encode())
        paths.extend((html_path, pdf_path, calls_path))

    rendered = set()
    for number, calls in _call_groups(con, where, params):
        if number in invoices:
            render(number, calls)
            rendered.add(number)
    for number in invoices:
        if number not in rendered:
            render(number, [])  # recurring charges only, no calls
    for name, content in (
        ("invoice_lines.csv", export_lines_csv(lines)),
        ("invoice_lines.json", export_lines_json(lines)),
    ):
        write_if_changed(folder / name, content.encode())
        paths.append(folder / name)
    if "closed" in statuses and _relation_exists(con, "marts", "fct_gl_journal"):
        journal = fetch_dicts(
            con,
            "select * from marts.fct_gl_journal where billing_period = ? order by invoice_number, gl_account, entry",
            [billing_period],
        )
        export_gl_csv(journal, folder / "gl_journal.csv")
        paths.append(folder / "gl_journal.csv")
    return sorted(paths)
