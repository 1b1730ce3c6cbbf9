"""Data operations: what landed and loaded each day, what was rejected or quarantined, and what mediation
made of the records: calls, duplicates, rejects and suspense."""

import streamlit as st

from dashboards import data
from dashboards.app_state import snapshot_or_stop


@st.cache_data(show_spinner=False)
def _by_day(snapshot: data.Snapshot, sources: tuple[str, ...]):  # cached per snapshot (its version) and filter
    return data.ingestion_by_day(snapshot, list(sources) or None)


snapshot = snapshot_or_stop()
st.title("Data operations")
st.caption(f"Snapshot {snapshot.version}, published {snapshot.published_at}")

totals = data.ingestion_totals(snapshot)
cols = st.columns(5)
cols[0].metric("Files landed", f"{totals['files']:,}")
cols[1].metric("Lines", f"{totals['lines']:,}")
cols[2].metric("Rejected lines", f"{totals['rejected_lines']:,}")
cols[3].metric("Quarantined files", f"{totals['files_quarantined']:,}")
cols[4].metric("Re-delivered files", f"{totals['files_redelivered']:,}")

all_sources = sorted(data.ingestion_by_day(snapshot)["source"].unique())
chosen = st.multiselect("Sources", all_sources, default=[], placeholder="All sources")
daily = _by_day(snapshot, tuple(chosen))

st.subheader("Lines loaded per delivery day")
st.bar_chart(daily, x="delivery_date", y="lines", color="source")
st.subheader("Days with rejects or quarantined files")
problems = daily[(daily.rejected_lines > 0) | (daily.files_quarantined > 0)]
st.dataframe(
    problems,
    hide_index=True,
    use_container_width=True,
    column_config={"delivery_date": st.column_config.DateColumn("delivery day", format="YYYY-MM-DD")},
)
st.download_button("Download CSV", daily.to_csv(index=False), "ingestion_daily.csv", "text/csv")

st.subheader("Mediation: records to calls")
mediation = data.mediation_totals(snapshot)
cols = st.columns(5)
cols[0].metric("Calls", f"{mediation['calls']:,}")
cols[1].metric("Duplicates", f"{mediation['duplicates']:,}")
cols[2].metric("Rejected records", f"{mediation['rejected']:,}")
cols[3].metric("In suspense", f"{mediation['suspended']:,}")
cols[4].metric("Records unaccounted", f"{mediation['unaccounted']:,}")
st.caption(
    f"{mediation['records']:,} records in = calls + {mediation['partials_merged']:,} partials merged into calls "
    "+ duplicates + rejected + in suspense."
)
suspense = data.suspense_by_reason(snapshot)
if len(suspense):
    st.dataframe(suspense, hide_index=True, use_container_width=True)
