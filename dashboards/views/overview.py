"""Overview: the month's revenue, margin, billed revenue, leakage and fraud at a glance, against the month
before, with their trends."""

from datetime import datetime

import streamlit as st

from dashboards.app_state import delta_pct, metric_row, money, page, percent
from dashboards.data import reporting_currency
from dashboards.glossary import PERIOD_END_RATES, TERMS, converted
from dashboards.queries import fraud, leakage, revenue

snapshot, role, paths = page("Overview", "rpt_usage_daily", needs="load and mediate a day (`tollhouse load`)")
months = revenue.months(snapshot)
month = st.selectbox(
    "Month",
    months,
    index=revenue.default_month(snapshot, months),
    format_func=lambda m: f"{m:%B %Y}",
    key="overview_month",
)
previous = next((m for m in months if m < month), None)
currency = reporting_currency(snapshot)

usage = revenue.usage_totals(snapshot, month)
before = previous and revenue.usage_totals(snapshot, previous)
if before and before["days"] < usage["days"]:  # a month that only began (or a first month) is no comparison
    before = None


def change(measure: str) -> str | None:
    return delta_pct(usage[measure], before[measure]) if before else None


st.subheader(f"Usage in {month:%B %Y} ({currency})")
st.caption(f"Usage revenue: the calls rated at the customers' tariffs, {converted(currency)}.")
metric_row(
    {
        "Usage revenue": (money(usage["revenue"], currency), change("revenue")),
        "Margin": (money(usage["margin"], currency), change("margin")),
        "Margin %": percent(100 * usage["margin"] / usage["revenue"] if usage["revenue"] else None, 1),
        "Minutes": (f"{usage['minutes']:,.0f}", change("minutes")),
    },
    {"Usage revenue": TERMS["Usage revenue"], "Margin": TERMS["Margin"]},
)

if snapshot.has("rpt_leakage_kpis"):
    st.subheader(f"Revenue assurance, {month:%B %Y} ({currency})")
    ra = leakage.kpis(snapshot, month, paths.cases)  # as `tollhouse report leakage` computes them
    st.caption(f"Billed: the month's invoices before tax, {converted(currency, PERIOD_END_RATES)}.")
    metric_row(
        {
            "Billed": money(ra.get("billed"), currency),
            "Under-billing found": money(ra.get("under_billing"), currency),
            "Leakage % of billed": percent(ra.get("leakage_pct_of_billed"), 3),
            "CDR-to-bill match rate": percent(ra.get("match_rate_pct"), 2),
        },
        {"Billed": TERMS["Billed"], "Under-billing found": TERMS["Leakage"]},
    )
else:
    st.info("No revenue-assurance KPIs yet: bill a month and run the controls (`tollhouse assure`).")

if snapshot.has("fct_fraud_alerts"):
    st.subheader(f"Fraud, {month:%B %Y}")
    start = datetime(month.year, month.month, 1)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
    raised = fraud.totals(snapshot, start, end)
    metric_row(
        {
            "Alerts raised": f"{raised['alerts']:,}",
            "Accounts alerted": f"{raised['accounts']:,}",
            "Exposure": money(raised["exposure_eur"], "EUR"),
        },
        {"Exposure": TERMS["Exposure"]},
    )

st.subheader("Trends")
left, right = st.columns(2)
with left:
    st.caption(f"Usage revenue and margin per day of {month:%B %Y} ({currency})")
    trend = revenue.daily_trend(snapshot, month).rename(columns={"revenue": "Usage revenue", "margin": "Margin"})
    st.line_chart(trend, x="day", y=["Usage revenue", "Margin"], x_label="Day", y_label=converted(currency))
with right:
    if snapshot.has("rpt_leakage_kpis"):
        st.caption(f"Leakage found per billing month and direction ({currency})")
        found = leakage.by_period(snapshot)
        found["Direction"] = found["direction"].str.replace("_", "-")
        st.bar_chart(found, x="month", y="leakage", color="Direction", x_label="Billing month",
                     y_label=converted(currency, PERIOD_END_RATES))  # fmt: skip
if snapshot.has("fct_fraud_alerts"):
    st.caption(f"Fraud alerts raised per day of {month:%B %Y} and their exposure (EUR)")
    st.bar_chart(fraud.by_day(snapshot, start, end), x="day", y="exposure_eur", height=220, x_label="Day",
                 y_label="Exposure, EUR (vendor cost)")  # fmt: skip
