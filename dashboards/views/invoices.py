"""Invoices: search by number or customer, open one to see its lines and itemised calls, and download its PDF
(the issued month-end document of a closed invoice, a draft rendered on demand) or its calls."""

import pandas as pd
import streamlit as st

from dashboards.app_state import MISSING, blank, follow_link, link_to, metric_row, money, page, table
from dashboards.glossary import TERMS
from dashboards.queries import invoices, revenue
from orchestration.billing.invoices.formatting import zone_of

snapshot, role, paths = page("Invoices", "fct_invoices", "fct_invoice_lines", "fct_invoice_calls",
                             needs="bill a month (`tollhouse bill`)")  # fmt: skip

cols = st.columns([3, 2, 2])
text = cols[0].text_input("Search", placeholder="Invoice number, customer or account", key="invoice_search")
month = cols[1].selectbox(
    "Billing month",
    [None, *revenue.months(snapshot)],
    format_func=lambda m: "All months" if m is None else f"{m:%Y-%m}",
    key="invoice_month",
)
chosen_statuses = cols[2].multiselect(
    "Status", invoices.statuses(snapshot), placeholder="Any status", key="invoice_status"
)
found = invoices.search(snapshot, text, month, chosen_statuses)
st.caption(f"{len(found):,} invoices")
table(found, height=min(420, 38 + 35 * len(found)))
if found.empty:
    st.stop()

follow_link("invoice", "invoice_open", list(found["invoice_number"]))  # ?invoice=INV-...: opens that invoice
number = st.selectbox("Open invoice", list(found["invoice_number"]), key="invoice_open")
link_to("invoice", "invoice_open", number)  # the address bar links to the invoice shown
head = invoices.invoice(snapshot, number)
st.subheader(f"{number}: {head['account_name']}, {head['billing_period']:%B %Y} ({head['status']})")
metric_row(
    {
        "Total": money(head["total"], head["currency"]),
        "Subtotal": money(head["subtotal"], head["currency"]),
        "Tax": money(head["tax_total"], head["currency"]),
        "Calls": f"{head['call_count']:,}",
        "Due": f"{head['due_date']:%Y-%m-%d}" if blank(head["due_date"]) else MISSING,
    },
    {"Total": TERMS["Invoiced"] if head["status"] == "closed" else TERMS["Billed"]},
)

st.markdown("**Lines**")
table(invoices.lines(snapshot, number))

calls = invoices.calls(snapshot, number, role.see_numbers)
zone = zone_of(blank(head.get("timezone"))).key  # an unknown zone falls back to UTC, and says so
calls["answer_at"] = pd.to_datetime(calls["answer_at"]).dt.tz_localize("UTC").dt.tz_convert(zone)
shown = f"the first {len(calls):,} of {head['call_count']:,}" if head["call_count"] > len(calls) else f"{len(calls):,}"
st.markdown(f"**Itemised calls** ({shown}), answered in the account's time zone, {zone}")
table(calls, column_config={"answer_at": st.column_config.TextColumn(f"Answered ({zone})")})

cols = st.columns(2)
# a closed invoice's PDF was issued at month end: hand over that file (no rendering, no rerun on the click);
# a draft is rendered from the snapshot when asked for
issued = invoices.issued_pdf(paths.invoices, head)
cols[0].download_button(
    "Download PDF",
    issued.read_bytes() if issued else lambda: invoices.invoice_pdf(snapshot, number),
    f"{number}.pdf",
    "application/pdf",
    key="invoice_pdf",
    type="primary",
    icon=":material/picture_as_pdf:",
    on_click="ignore" if issued else "rerun",
)
cols[1].download_button(
    "Download calls (CSV)",
    lambda: invoices.calls(snapshot, number, role.see_numbers, limit=None).to_csv(index=False),
    f"{number}-calls.csv",
    "text/csv",
    key="invoice_calls_csv",
)
