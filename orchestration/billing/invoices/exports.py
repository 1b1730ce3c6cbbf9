"""Exports for an ERP or general ledger: a period's invoice lines as CSV and JSON, an invoice's calls as CSV, any
query's rows (the ledger journal) as CSV. Money is carried as exact strings, never floats; files are written
atomically and only when their content changed."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from orchestration.billing.invoices.formatting import format_money, mask_number, zone_of

LINE_COLUMNS = ("invoice_number", "account_id", "billing_period", "status", "line_no", "line_type", "charge_type",
                "description", "reference", "quantity", "unit", "unit_price", "amount", "currency", "tax_name",
                "tax_rate", "original_period")  # fmt: skip


def _plain(value: Any) -> Any:
    """A value for CSV/JSON: decimals as exact strings at their stored scale, dates in ISO 8601."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _export_row(line: Mapping[str, Any]) -> dict[str, Any]:
    row = {column: _plain(line.get(column)) for column in LINE_COLUMNS}
    row["amount"] = format_money(line.get("amount"), grouping=False) or None
    return row


def _sorted_lines(lines: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(lines, key=lambda line: (str(line.get("invoice_number")), int(line.get("line_no") or 0)))


def export_lines_csv(lines: Iterable[Mapping[str, Any]]) -> str:
    """Invoice lines as CSV (RFC 4180), one row per line in (invoice_number, line_no) order, amounts with 2
    decimals, quantities, prices and rates exact; empty field for null."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LINE_COLUMNS)
    for line in _sorted_lines(lines):
        row = _export_row(line)
        writer.writerow("" if row[c] is None else row[c] for c in LINE_COLUMNS)
    return buffer.getvalue()


def export_calls_csv(calls: Iterable[Mapping[str, Any]], timezone: str) -> str:
    """Every call of an invoice, as itemised (numbers masked but for their last 4 digits, local answer time),
    for a customer's own reconciliation: the documents itemise only the first ITEMISED_ROWS."""
    zone = zone_of(timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("call_id", "answered_local", "number", "destination", "call_type", "billable_seconds",
                     "billed_seconds", "bundle_seconds", "charge", "line_type", "original_period"))  # fmt: skip
    for call in calls:
        answer_at = call.get("answer_at")
        local = answer_at.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if answer_at else ""
        charge = call.get("charge")
        writer.writerow((
            call.get("call_id"), local, mask_number(call.get("b_number"), mask="*"), call.get("destination") or "",
            call.get("call_type") or "", call.get("billable_seconds"), call.get("billed_seconds"),
            call.get("covered_seconds") or 0, "" if charge is None else str(charge), call.get("line_type"),
            call.get("original_period") or "",
        ))  # fmt: skip
    return out.getvalue()


def export_lines_json(lines: Iterable[Mapping[str, Any]]) -> str:
    """Invoice lines as a JSON array in (invoice_number, line_no) order; every decimal a string (no floats)."""
    rows = [_export_row(line) for line in _sorted_lines(lines)]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def export_gl_csv(rows: Iterable[Mapping[str, Any]], path: Path) -> bool:
    """Any query's rows (e.g. a general-ledger journal) as CSV at `path`, columns in the first row's order,
    decimals exact. Written atomically and only when the content changed; returns whether it was written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns: list[str] | None = None
    for row in rows:
        if columns is None:
            columns = list(row)
            writer.writerow(columns)
        writer.writerow("" if row.get(c) is None else _plain(row.get(c)) for c in columns)
    return write_if_changed(Path(path), buffer.getvalue().encode())


def write_if_changed(path: Path, content: bytes) -> bool:
    """Write `content` to `path` through a temporary file and os.replace, so a reader never sees half a file;
    leave the file alone (mtime too) when it already holds exactly this. Returns whether it was written."""
    try:
        if path.stat().st_size == len(content) and path.read_bytes() == content:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes(content)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return True
