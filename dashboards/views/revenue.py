"""Revenue: rated usage by month, product, destination country, customer and currency; billed revenue by
product; margin by route; receivables ageing. Every table downloads as CSV."""

import streamlit as st

from dashboards.app_state import page, table
from dashboards.data import reporting_currency
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


by_month = revenue.usage_by(snapshot, "month", filters, mode)
st.caption(
    f"{by_month['calls'].sum():,} calls, {by_month['minutes'].sum():,.0f} minutes rated in the selection"
    + (f", revenue {by_month['revenue'].sum():,.2f} {currency}" if mode == "reporting" else "")
)
st.subheader("Usage revenue by month")
chart = by_month.assign(revenue=by_month["revenue"].astype(float), margin=by_month["margin"].astype(float))
st.bar_chart(chart, x="month", y=["revenue", "margin"], stack=False)
table(by_month, "revenue_by_month")

tabs = st.tabs(["By product", "By destination", "By customer", "By currency", "Billed by product"])
for tab, dimension in zip(tabs[:3], ("product", "destination country", "customer"), strict=True):
    with tab:
        frame = revenue.usage_by(snapshot, dimension, filters, mode)
        top = frame.head(15).assign(revenue=lambda f: f["revenue"].astype(float))
        st.bar_chart(top, x=dimension, y="revenue", horizontal=True)
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
        billed = revenue.billed_by_product(snapshot, first, last, mode)
        st.bar_chart(
            billed.assign(amount=billed["amount"].astype(float)), x="billing_period", y="amount", color="product"
        )
        table(billed, "billed_by_product")
    else:
        st.info("No invoices yet: bill a month (`tollhouse bill`).")

st.subheader("Margin by route")
negative_only = st.toggle("Only routes that lose money", key="revenue_negative")
routes = revenue.margin_by_route(snapshot, negative_only)
worst = routes.head(15).assign(route=lambda f: f["carrier"].fillna("-") + " → " + f["destination"].fillna("-"))
st.bar_chart(worst.assign(margin=worst["margin"].astype(float)), x="route", y="margin", horizontal=True, height=320)
table(routes, "margin_by_route")

st.subheader("Receivables ageing")
if snapshot.has("rpt_receivables_ageing"):
    ageing = revenue.receivables_ageing(snapshot)
    buckets = ["current", "1-30", "31-60", "61-90", "over 90"]
    long = ageing.melt(id_vars=["customer", "currency"], value_vars=buckets, var_name="bucket", value_name="open")
    st.bar_chart(long.assign(open=long["open"].astype(float)), x="customer", y="open", color="bucket", horizontal=True)
    table(ageing, "receivables_ageing")
else:
    st.info("No receivables yet: bill a month (`tollhouse bill`).")
