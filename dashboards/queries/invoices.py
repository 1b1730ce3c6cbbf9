"""Invoices: search, one invoice with its lines and itemised calls, and its PDF, rendered from the snapshot by
the same code as the month-end documents (a closed invoice's PDF is byte-identical to the one issued)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from dashboards.data import Snapshot, query, records
from orchestration.billing.invoices.exports import LINE_COLUMNS
from orchestration.billing.invoices.pdf import render_invoice_pdf
from orchestration.billing.invoices.period import CALL_COLUMNS, INVOICE_COLUMNS, SAFE_NAME

SHOWN_CALLS = 1_000  # itemised calls shown on the page; the CSV download has every one


def search(
    snapshot: Snapshot, text: str = "", month: date | None = None, statuses: list[str] | None = None
) -> pd.DataFrame:
    """Invoices whose number, customer name or account id contains `text`: closed (issued) invoices first, then
    drafts; newest period first within each."""
    return query(
        snapshot,
        """select invoice_number, account_name as customer, account_id, billing_period, status, currency,
                  subtotal, tax_total, total, call_count, issue_date, due_date
           from i
           where ($text = '' or invoice_number ilike '%' || $text || '%' or account_name ilike '%' || $text || '%'
                  or account_id ilike '%' || $text || '%')
             and ($month is null or billing_period = $month)
             and ($statuses is null or status in (select unnest($statuses)))
           order by status = 'closed' desc, billing_period desc, invoice_number""",
        {"text": text.strip(), "month": month, "statuses": statuses or None},
        i="fct_invoices",
    )


def statuses(snapshot: Snapshot) -> list[str]:
    return list(query(snapshot, "select distinct status from i order by 1", i="fct_invoices")["status"])


def invoice(snapshot: Snapshot, number: str) -> dict[str, Any] | None:
    frame = query(snapshot, "select * from i where invoice_number = $number", {"number": number}, i="fct_invoices")
    return None if frame.empty else frame.iloc[0].to_dict()


def lines(snapshot: Snapshot, number: str) -> pd.DataFrame:
    return query(
        snapshot,
        f"select {', '.join(LINE_COLUMNS)} from l where invoice_number = $number order by line_no",
        {"number": number},
        l="fct_invoice_lines",
    )


def calls(snapshot: Snapshot, number: str, see_numbers: bool, limit: int | None = SHOWN_CALLS) -> pd.DataFrame:
    """The invoice's itemised calls in time order, B-numbers masked unless `see_numbers`."""
    return query(
        snapshot,
        """select call_id, answer_at, masked(b_number, $see) as b_number, destination, call_type,
                  billable_seconds, billed_seconds, covered_seconds, charge, currency, line_type
           from c where invoice_number = $number order by answer_at, call_id
           limit coalesce($limit, 9223372036854775807)""",
        {"number": number, "see": see_numbers, "limit": limit},
        c="fct_invoice_calls",
    )


def issued_pdf(invoices_folder: Path, head: dict[str, Any]) -> Path | None:
    """The month-end PDF issued for a closed invoice (data/invoices/<YYYY-MM>/<number>.pdf), or None for a draft
    or when no document was written: a closed invoice never changes, so the issued file is the document and
    need not be rendered again."""
    if head.get("status") != "closed" or not SAFE_NAME.fullmatch(str(head.get("invoice_number", ""))):
        return None
    issued = invoices_folder / f"{head['billing_period']:%Y-%m}" / f"{head['invoice_number']}.pdf"
    return issued if issued.is_file() else None


def invoice_pdf(snapshot: Snapshot, number: str) -> bytes:
    """The invoice as the month-end PDF (numbers masked in the document itself, whatever the role)."""

    def rows(table: str, columns: tuple[str, ...], order: str) -> list[dict[str, Any]]:
        sql = f"select {', '.join(columns)} from t where invoice_number = $number order by {order}"
        return records(snapshot, sql, {"number": number}, t=table)

    heads = rows("fct_invoices", (*INVOICE_COLUMNS, "timezone"), "invoice_number")
    if not heads:
        raise KeyError(f"no invoice {number} in the snapshot")
    head = heads[0]
    return render_invoice_pdf(
        head,
        rows("fct_invoice_lines", LINE_COLUMNS, "line_no"),
        rows("fct_invoice_calls", CALL_COLUMNS, "answer_at, call_id"),
        head["timezone"] or "UTC",
    )
