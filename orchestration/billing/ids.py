"""Identifiers billing shares with the systems around it (the simulator's payments, invoice exports).

Invoice numbers are stable: one invoice per account and billing period (a calendar month), numbered
INV-<YYYYMM>-<account_id>, so a payment can name the invoice it settles before tollhouse has issued it, and
re-running a closed period gives the same numbers. dbt builds the same string with the `invoice_number` macro
of dbt_project/macros/billing.sql.
"""

from __future__ import annotations

from datetime import date


def invoice_number(account_id: str, period: date) -> str:
    """The invoice number of `account_id`'s invoice for the month `period` falls in, e.g.
    invoice_number("ACC-0007", date(2026, 10, 1)) == "INV-202610-ACC-0007"."""
    return f"INV-{period.year:04d}{period.month:02d}-{account_id}"
