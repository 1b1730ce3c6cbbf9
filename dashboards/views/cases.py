"""Cases: the revenue-assurance work queue. Cases by status and owner with the case KPIs (computed once, in
orchestration/assurance/kpis.py, as `tollhouse report leakage` and `tollhouse case list` show them); open one to
work it (the same form as on the Leakage page) and see its findings, ledger and history."""

import pandas as pd
import streamlit as st

from dashboards.app_state import metric_row, page, table
from dashboards.case_work import work_case
from dashboards.queries import case_queue
from orchestration.assurance import cases, kpis

snapshot, role, paths = page("Cases", "fct_leakage_findings", needs="run the controls (`tollhouse assure`)")
if not paths.cases.exists():
    st.info("No cases yet: the assurance run files the findings into cases.")
    st.stop()

figures = kpis.case_kpis(paths.cases)
days = figures.mean_days_to_recovery
metric_row(
    {
        "Cases being worked": f"{figures.open_cases:,}",
        "Cases recovered": f"{figures.by_status['recovered']:,}",
        "Refunds due or made": f"{figures.by_status['refund_due'] + figures.by_status['refunded']:,}",
        "Closed or cancelled": f"{figures.by_status['closed'] + figures.by_status['cancelled']:,}",
        "Mean days to recovery": "–" if days is None else f"{days:.1f}",
        "Awaiting approval": f"{figures.pending_approval:,}",
        "Below materiality (no case)": f"{figures.below_materiality:,}",
    }
)
left, right = st.columns(2)
with left:
    st.markdown("**Cases by status**")
    st.bar_chart(
        pd.DataFrame({"status": list(cases.STATUSES), "cases": [figures.by_status[s] for s in cases.STATUSES]}),
        x="status", y="cases", horizontal=True, x_label="cases", y_label="status",
    )  # fmt: skip
    st.markdown("**Cases being worked, by days since opened**")
    table(pd.DataFrame({"age": list(figures.ageing), "cases": [f"{n:,}" for n in figures.ageing.values()]}))
with right:
    st.markdown("**Leakage worked and recovered, by currency** (cases not cancelled; refunds owed to customers apart)")
    table(case_queue.recovery_table(figures))

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
