"""Data operations: control totals per stage and day (landed, mediated, rated, billed), what landed and loaded
per source, rejects and suspense by reason and age, freshness per source, and the pipeline's last runs."""

import streamlit as st

from dashboards.app_state import metric_row, page, table
from dashboards.queries import operations

snapshot, role, paths = page("Data operations", "rpt_ingestion_daily", "rpt_mediation_daily")

totals = operations.ingestion_totals(snapshot)
metric_row(
    {
        "Files landed": f"{totals['files']:,}",
        "Lines": f"{totals['lines']:,}",
        "Rejected lines": f"{totals['rejected_lines']:,}",
        "Quarantined files": f"{totals['files_quarantined']:,}",
        "Re-delivered files": f"{totals['files_redelivered']:,}",
    }
)

st.subheader("Control totals per stage and delivery day")
stages = operations.stage_totals(snapshot)
if stages.empty:
    st.info("The stage totals are built by the first billing and assurance run (`tollhouse assure`).")
else:
    measures = ["lines_landed", "calls_mediated", "calls_rated", "calls_billed"]
    st.line_chart(stages.rename(columns={m: m.replace("_", " ").capitalize() for m in measures}), x="delivery_date",
                  y=[m.replace("_", " ").capitalize() for m in measures], x_label="Delivery day",
                  y_label="Lines or calls")  # fmt: skip
    table(stages, "stage_totals", height=300)

st.subheader("Freshness per source")
table(operations.freshness(snapshot))

st.subheader("Lines loaded per delivery day")
chosen = st.multiselect("Sources", operations.sources(snapshot), default=[], placeholder="All sources",
                        key="ops_sources")  # fmt: skip
daily = operations.ingestion_by_day(snapshot, chosen)
st.bar_chart(daily, x="delivery_date", y="lines", color="source", x_label="Delivery day", y_label="Lines")
st.markdown("**Days with rejects or quarantined files**")
problems = daily[(daily.rejected_lines > 0) | (daily.files_quarantined > 0)]
table(problems)
st.download_button("Download daily loads (CSV)", daily.to_csv(index=False), "ingestion_daily.csv", "text/csv")

st.subheader("Mediation: records to calls")
mediation = operations.mediation_totals(snapshot)
metric_row(
    {
        "Calls": f"{mediation['calls']:,}",
        "Duplicates": f"{mediation['duplicates']:,}",
        "Rejected records": f"{mediation['rejected']:,}",
        "In suspense": f"{mediation['suspended']:,}",
        "Records unaccounted": f"{mediation['unaccounted']:,}",
    }
)
st.caption(
    f"{mediation['records']:,} records in = calls + {mediation['partials_merged']:,} partials merged into calls "
    "+ duplicates + rejected + in suspense."
)
left, right = st.columns(2)
with left:
    st.markdown("**Rejects by reason**")
    if snapshot.has("fct_mediation_rejects"):
        table(operations.rejects_by_reason(snapshot))
with right:
    st.markdown("**Suspense by reason and age**")
    suspense = operations.suspense_by_reason(snapshot)
    if len(suspense):
        st.bar_chart(suspense, x="reason", y="calls", color="age", horizontal=True, x_label="Reason", y_label="Calls")
    table(suspense)

st.subheader("Last runs")
table(operations.last_runs(paths))
