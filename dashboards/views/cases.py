"""Cases: the revenue-assurance work queue. Cases by status and owner with the recovery KPIs; open one to work
it (the same form as on the Leakage page) and see its findings and history."""

from decimal import Decimal

import pandas as pd
import streamlit as st

from dashboards.app_state import metric_row, page, table
from dashboards.case_work import work_case
from dashboards.queries import case_queue
from orchestration.assurance import cases
from orchestration.billing.invoices.formatting import cents

snapshot, role, paths = page("Cases", "fct_leakage_findings", needs="run the controls (`tollhouse assure`)")
if not paths.cases.exists():
    st.info("No cases yet: the assurance run files the findings into cases.")
    st.stop()

kpis = cases.case_kpis(paths.cases)
days = kpis.mean_days_to_recovery
metric_row(
    {
        "Cases being worked": f"{sum(kpis.by_status[s] for s in case_queue.OPEN_STATUSES):,}",
        "Cases recovered": f"{kpis.by_status['recovered']:,}",
        "Closed or cancelled": f"{kpis.by_status['closed'] + kpis.by_status['cancelled']:,}",
        "Mean days to recovery": "–" if days is None else f"{days:.1f}",
        "Below materiality (no case)": f"{kpis.below_materiality:,}",
    }
)
left, right = st.columns(2)
with left:
    st.markdown("**Cases by status**")
    st.bar_chart({"cases": {status: kpis.by_status[status] for status in cases.STATUSES}}, horizontal=True)
with right:
    st.markdown("**Leakage and recovered, by currency** (cases not cancelled)")
    recovery = pd.DataFrame(
        [
            (currency, cents(leaked), cents(kpis.recovered.get(currency, Decimal(0))))
            for currency, leaked in kpis.leakage.items()
        ],
        columns=["currency", "leakage", "recovered"],
    ).sort_values("currency")
    recovery["recovered %"] = [
        round(float(100 * got / leaked), 1) if leaked else None
        for got, leaked in zip(recovery["recovered"], recovery["leakage"], strict=True)
    ]
    table(recovery)

with st.container(border=True):
    cols = st.columns(3)
    statuses = cols[0].multiselect(
        "Status", cases.STATUSES, default=list(case_queue.OPEN_STATUSES), placeholder="Any status", key="cases_status"
    )
    owner = cols[1].selectbox("Owner", [None, *case_queue.owners(paths.cases)], key="cases_owner",
                              format_func=lambda o: "Anyone" if o is None else o)  # fmt: skip
    mine = cols[2].toggle("Only unassigned", key="cases_unassigned")
listed = case_queue.queue(paths.cases, statuses, owner)
if mine:
    listed = listed[listed["owner"].isna()]
st.caption(f"{len(listed):,} cases")
table(listed, "cases", height=min(420, 38 + 35 * max(len(listed), 1)))
if listed.empty:
    st.stop()

titles = {row.case_id: f"{row.case_id} · {row.status} · {row.title}" for row in listed.itertuples()}
case_id = st.selectbox("Open case", list(titles), format_func=titles.get, key="cases_open")
st.subheader(f"Case {case_id}")
detail = work_case(paths.cases, case_id)
st.markdown("**Findings**")
table(case_queue.findings_of(snapshot, [f.finding_id for f in detail.findings]))
