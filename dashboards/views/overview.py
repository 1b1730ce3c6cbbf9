"""Overview: the month's revenue, margin, billed revenue, leakage and fraud at a glance, against the month
before, with their trends."""

from datetime import datetime

import streamlit as st

from dashboards.app_state import delta_pct, metric_row, money, page, percent
from dashboards.data import reporting_currency
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
metric_row(
    {
        "Revenue": (money(usage["revenue"]), change("revenue")),
        "Margin": (money(usage["margin"]), change("margin")),
        "Margin %": percent(100 * usage["margin"] / usage["revenue"] if usage["revenue"] else None, 1),
        "Minutes": (f"{usage['minutes']:,.0f}", change("minutes")),
    }
)

if snapshot.has("rpt_leakage_kpis"):
    st.subheader(f"Revenue assurance, {month:%B %Y} ({currency})")
    ra = leakage.kpis(snapshot, month, paths.cases)  # as `tollhouse report leakage` computes them
    metric_row(
        {
            "Billed": money(ra.get("billed")),
            "Under-billing found": money(ra.get("under_billing")),
            "Leakage % of billed": percent(ra.get("leakage_pct_of_billed"), 3),
            "CDR-to-bill match rate": percent(ra.get("match_rate_pct"), 2),
        }
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
            "Exposure (EUR)": money(raised["exposure_eur"]),
        }
    )

st.subheader("Trends")
left, right = st.columns(2)
with left:
    st.caption(f"Revenue and margin per day of {month:%B %Y} ({currency})")
    st.line_chart(revenue.daily_trend(snapshot, month), x="day", y=["revenue", "margin"])
with right:
    if snapshot.has("rpt_leakage_kpis"):
        st.caption(f"Leakage found per billing month and direction ({currency})")
        st.bar_chart(leakage.by_period(snapshot), x="month", y="leakage", color="direction")
if snapshot.has("fct_fraud_alerts"):
    st.caption(f"Fraud alerts raised per day of {month:%B %Y} and their exposure (EUR)")
    st.bar_chart(fraud.by_day(snapshot, start, end), x="day", y="exposure_eur", height=220)
