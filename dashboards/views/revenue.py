"""Revenue: usage revenue (the calls rated here) by month, product, destination country, customer and
currency; billed revenue by product; margin by route; receivables ageing. Every table downloads as CSV.

A chart never adds currencies on one axis: in the reporting currency it says how amounts were converted; in
the accounts' own currencies it draws one chart per currency. Tables keep each row's currency."""

import pandas as pd
import streamlit as st

from dashboards.app_state import follow_link, page, table
from dashboards.data import reporting_currency
from dashboards.glossary import PERIOD_END_RATES, converted
from dashboards.queries import revenue

snapshot, role, paths = page("Revenue", "rpt_usage_daily", needs="load and mediate a day (`tollhouse load`)")
currency = reporting_currency(snapshot)
months = revenue.months(snapshot)
offered = revenue.choices(snapshot)
names = dict(offered["accounts"])

with st.container(border=True):
    cols = st.columns([2, 2, 2, 3, 2])
    first, last = (
        cols[0].select_slider(
            "Months",
            options=sorted(months),
            value=(min(months), max(months)),
            format_func=lambda m: f"{m:%Y-%m}",
            key="revenue_months",
        )
        if len(months) > 1
        else (months[0], months[0])
    )
    products = cols[1].multiselect("Products", offered["products"], placeholder="All products", key="revenue_products")
    countries = cols[2].multiselect(
        "Destination countries", offered["countries"], placeholder="All countries", key="revenue_countries"
    )
    follow_link("account", "revenue_accounts", list(names), many=True)  # ?account=ACC-00001
    accounts = cols[3].multiselect(
        "Customers",
        list(names),
        format_func=lambda a: f"{names[a]} ({a})",
        placeholder="All customers",
        key="revenue_accounts",
    )
    mode = cols[4].radio(
        "Amounts in",
        revenue.CURRENCY_MODES,
        format_func=lambda m: currency if m == "reporting" else "account currency",
        key="revenue_currency",
    )
filters = revenue.UsageFilter(first, last, products, countries, accounts)


def per_currency(frame: pd.DataFrame, draw, axis: str) -> None:
    """`draw(frame, y_label)` once per currency of `frame`, each axis labelled with its currency; a frame already
    in the reporting currency is one chart, labelled with how it was converted."""
    for code in sorted(frame["currency"].dropna().unique()):
        draw(frame[frame["currency"] == code], axis if mode == "reporting" else code)


converted_usage = converted(currency)


by_month = revenue.usage_by(snapshot, "month", filters, mode)
st.caption(
    f"{by_month['calls'].sum():,} calls, {by_month['minutes'].sum():,.0f} minutes rated in the selection"
    + (f", usage revenue {by_month['revenue'].sum():,.2f} {currency}" if mode == "reporting" else "")
)
st.subheader("Usage revenue by month")
st.caption(
    "Usage revenue: the calls rated at the customers' tariffs, before tax, bundles and discounts. "
    + (f"Amounts in {converted_usage}." if mode == "reporting" else "Amounts in each account's currency.")
)
chart = by_month.assign(revenue=by_month["revenue"].astype(float), margin=by_month["margin"].astype(float))
chart = chart.rename(columns={"revenue": "Usage revenue", "margin": "Margin"})
per_currency(chart, lambda f, axis: st.bar_chart(f, x="month", y=["Usage revenue", "Margin"], stack=False,
                                                 x_label="Month", y_label=axis), converted_usage)  # fmt: skip
table(by_month, "revenue_by_month")

tabs = st.tabs(["By product", "By destination", "By customer", "By currency", "Billed by product"])
for tab, dimension in zip(tabs[:3], ("product", "destination country", "customer"), strict=True):
    with tab:
        frame = revenue.usage_by(snapshot, dimension, filters, mode)
        top = frame.assign(revenue=lambda f: f["revenue"].astype(float))
        per_currency(top, lambda f, axis, d=dimension: st.bar_chart(f.head(15), x=d, y="revenue", horizontal=True,
                                                                   x_label=d.capitalize(),
                                                                   y_label=f"Usage revenue, {axis}"),
                     converted_usage)  # fmt: skip
        table(frame, f"revenue_by_{dimension.replace(' ', '_')}")
with tabs[3]:
    table(
        revenue.usage_by(snapshot, "customer", filters, "account")
        .groupby("currency", as_index=False)[["calls", "revenue", "margin"]]
        .sum(),
        "revenue_by_currency",
    )
with tabs[4]:
    if snapshot.has("fct_invoice_lines"):
        st.caption("Billed: the invoices' lines before tax, drafts and closed invoices.")
        billed = revenue.billed_by_product(snapshot, first, last, mode)
        per_currency(billed.assign(amount=billed["amount"].astype(float)),
                     lambda f, axis: st.bar_chart(f, x="billing_period", y="amount", color="product",
                                                  x_label="Billing month", y_label=f"Billed, {axis}"),
                     converted(currency, PERIOD_END_RATES))  # fmt: skip
        table(billed, "billed_by_product")
    else:
        st.info("No invoices yet: bill a month (`tollhouse bill`).")

st.subheader("Margin by route")
negative_only = st.toggle("Only routes that lose money", key="revenue_negative")
routes = revenue.margin_by_route(snapshot, negative_only)
st.caption("In each rate plan's currency: one chart per currency, the 15 worst routes of each.")
worst = routes.assign(route=lambda f: f["carrier"].fillna("—") + " → " + f["destination"].fillna("—"),
                      margin=lambda f: f["margin"].astype(float))  # fmt: skip
for code in sorted(worst["currency"].dropna().unique()):
    st.bar_chart(worst[worst["currency"] == code].head(15), x="route", y="margin", horizontal=True, height=320,
                 x_label="Route", y_label=f"Margin, {code}")  # fmt: skip
table(routes, "margin_by_route")

st.subheader("Receivables ageing")
if snapshot.has("rpt_receivables_ageing"):
    ageing = revenue.receivables_ageing(snapshot)
    buckets = ["current", "1-30", "31-60", "61-90", "over 90"]
    long = ageing.melt(id_vars=["customer", "currency"], value_vars=buckets, var_name="bucket", value_name="open")
    long["open"] = long["open"].astype(float)
    st.caption("Open balances in each customer's currency: one chart per currency.")
    for code in sorted(long["currency"].dropna().unique()):
        st.bar_chart(long[long["currency"] == code], x="customer", y="open", color="bucket", horizontal=True,
                     x_label="Customer", y_label=f"Open, {code}")  # fmt: skip
    table(ageing, "receivables_ageing")
else:
    st.info("No receivables yet: bill a month (`tollhouse bill`).")
