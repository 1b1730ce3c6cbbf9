"""The revenue terms, defined once: every page's metrics, column headers and glossary expander read them here,
so "revenue" on one page means what it means on another, and each page says which one it shows."""

from __future__ import annotations

import re

import streamlit as st

TERMS: dict[str, str] = {
    "Expected revenue": (
        "What the calls and subscriptions should earn: every call rated here at the customer's tariff, plus the "
        "recurring charges of the order inventory. Before tax. The revenue-assurance baseline."
    ),
    "Usage revenue": (
        "The rated value of the calls alone: each call priced here at the customer's tariff, by the day of the "
        "call, before tax, bundles and discounts. The Overview's and the Revenue page's \"revenue\"."
    ),
    "Billed": "Amounts on the billing month's invoices, drafts and closed ones alike. Before tax.",
    "Invoiced": "Amounts on issued invoices: those closed at month end and sent to the customer. With tax.",
    "Collected": "Payments received and applied to invoices.",
    "Margin": "Usage revenue minus the vendor (termination) cost of the route each call took.",
    "Leakage": (
        "A difference the revenue-assurance controls found between expected, billed and collected. Under-billing "
        "is revenue lost (recoverable from the customer); over-billing is customer harm (a refund owed, never a "
        "recovery); cost leakage is paid to vendors beyond the deck; collection leakage is billed but unpaid."
    ),
    "Recovered": "Under-billing the analysts have billed again and recorded on the case. Refunds are not recoveries.",
    "Exposure": (
        "What a fraud alert's account spent on calls (at vendor cost, in EUR) since the suspicious traffic began."
    ),
    "Reporting currency": (
        "Amounts of several currencies are converted into one to be added up: usage at the call day's rate, "
        "invoices at the billing month's last day's rate (the warehouse's dim_fx_rates). Tables keep each row's "
        "own currency."
    ),
}

# What each page's figures are: the glossary terms its expander shows.
PAGE_TERMS: dict[str, tuple[str, ...]] = {
    "overview": ("Usage revenue", "Margin", "Billed", "Leakage", "Exposure", "Reporting currency"),
    "revenue": ("Usage revenue", "Margin", "Billed", "Invoiced", "Collected", "Reporting currency"),
    "invoices": ("Billed", "Invoiced", "Collected"),
    "leakage": ("Expected revenue", "Billed", "Collected", "Leakage", "Recovered", "Reporting currency"),
    "cases": ("Leakage", "Recovered"),
    "fraud": ("Exposure",),
    "data_operations": ("Usage revenue", "Billed"),
}

# Column headers as people read them; a column not listed is shown by its words (snake_case to "Snake case").
LABELS: dict[str, str] = {
    "account_id": "Account",
    "account_name": "Customer",
    "revenue": "Usage revenue",
    "alert_id": "Alert",
    "as_of_date": "As of",
    "billing_period": "Billing month",
    "billable_seconds": "Billable s",
    "billed_seconds": "Billed s",
    "call_id": "Call",
    "case_id": "Case",
    "control_id": "Control",
    "covered_seconds": "Covered s (bundle)",
    "decided_by": "Decided by",
    "delivery_date": "Delivery day",
    "exposure_eur": "Exposure (EUR)",
    "exposure_at_alert_eur": "Exposure at alert (EUR)",
    "finding_id": "Finding",
    "hours_since_load": "Hours since load",
    "invoice_number": "Invoice",
    "is_covered": "Covered",
    "last_loaded_at": "Last loaded",
    "line_no": "Line",
    "margin_pct": "Margin %",
    "model_score": "Model score",
    "raised_at": "Raised",
    "tax_total": "Tax",
    "unapplied_cash": "Unapplied cash",
    "vendor_cost": "Vendor cost",
    "vendor_id": "Carrier",
}
# Columns that hold one of the terms: their header's tooltip is its definition.
COLUMN_TERMS = {
    "revenue": "Usage revenue",
    "margin": "Margin",
    "expected_amount": "Expected revenue",
    "expected_revenue": "Expected revenue",
    "billed_amount": "Billed",
    "billed_revenue": "Billed",
    "invoiced": "Invoiced",
    "invoiced_total": "Invoiced",
    "collected": "Collected",
    "paid": "Collected",
    "leakage": "Leakage",
    "leakage_amount": "Leakage",
    "recovered": "Recovered",
    "recovered_amount": "Recovered",
    "exposure_eur": "Exposure",
}


def column_help(column: str) -> str | None:
    term = COLUMN_TERMS.get(column)
    return TERMS[term] if term else None


ACRONYMS = {"id": "ID", "eur": "(EUR)", "pct": "%", "fx": "FX", "ra": "RA", "cdr": "CDR", "cdrs": "CDRs", "pdf": "PDF"}


DAILY_RATES = "converted at daily rates"  # each call at its day's rate
PERIOD_END_RATES = "converted at month-end rates"  # each billing month at its last day's rate


def converted(currency: str, rates: str = DAILY_RATES) -> str:
    """An axis or heading label for amounts of several currencies shown in one ("EUR, converted at ...")."""
    return f"{currency}, {rates}"


def label(column: str) -> str:
    """The header a person reads for `column`: the table above, else its words with the first capitalised."""
    if column in LABELS:
        return LABELS[column]
    if not re.fullmatch(r"[a-z0-9_]+", column):
        return column[:1].upper() + column[1:]  # already written for people ("1-30", "recovered %")
    words = [ACRONYMS.get(word, word) for word in column.split("_") if word]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def help_text(term: str) -> str:
    return TERMS[term]


def glossary(page: str) -> None:
    """The page's glossary: the terms its figures use, each defined."""
    terms = PAGE_TERMS.get(page, ())
    if not terms:  # a page that shows none of the terms
        return
    with st.expander("Glossary: what these figures mean", icon=":material/menu_book:"):
        for term in terms:
            st.markdown(f"**{term}**: {TERMS[term]}")
