"""Fraud: the alert queue, most exposed first; the reasons and drivers of an alert; the account's traffic
around it; confirm or dismiss (the labels of the next model training)."""

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.app_state import blank, metric_row, money, page, table
from dashboards.glossary import TERMS
from dashboards.queries import fraud
from dashboards.roles import current_user
from orchestration.assurance import alert_queue, cases

snapshot, role, paths = page("Fraud", "fct_fraud_alerts", "fct_fraud_account_hours",
                             needs="score the calls (`tollhouse fraud score`)")  # fmt: skip

status = st.segmented_control("Alerts", ["open", "confirmed", "dismissed", "all"], default="open", key="fraud_status")
everything = fraud.queue(snapshot, paths.cases)
alerts = everything if status in (None, "all") else everything[everything["status"] == status]
metric_row(
    {
        "Open alerts": f"{(everything['status'] == 'open').sum():,}",
        "Open exposure": money(everything.loc[everything["status"] == "open", "exposure_eur"].sum(), "EUR"),
        "Confirmed": f"{(everything['status'] == 'confirmed').sum():,}",
        "Dismissed": f"{(everything['status'] == 'dismissed').sum():,}",
    },
    {"Open exposure": TERMS["Exposure"]},
)

table(
    alerts[["alert_id", "account_id", "raised_at", "exposure_eur", "calls", "model_score", "rules_hit", "status",
            "decided_by"]],
    height=min(420, 38 + 35 * max(len(alerts), 1)),
    column_config={"exposure_eur": st.column_config.NumberColumn("Exposure (EUR)", format="accounting"),
                   "model_score": st.column_config.ProgressColumn("Model score", format="%.3f", min_value=0,
                                                                  max_value=1)},
)  # fmt: skip
if alerts.empty:
    st.info("No alerts in this state.")
    st.stop()

labels = {
    row.alert_id: f"{row.alert_id} · {row.account_id} · {money(row.exposure_eur, 'EUR')} · {row.status}"
    for row in alerts.itertuples()
}
alert_id = st.selectbox("Open alert", list(labels), format_func=labels.get, key="fraud_alert")
alert = alerts[alerts["alert_id"] == alert_id].iloc[0]
raised_at = pd.Timestamp(alert["raised_at"]).to_pydatetime()

st.subheader(f"Alert {alert_id} on {alert['account_id']}")
left, right = st.columns(2)
with left:
    st.markdown("**Why it was raised**")
    for reason in alert["reasons"] if alert["reasons"] is not None else []:
        st.markdown(f"- {reason}")
    if blank(alert["model_score"]) is not None:
        st.markdown(f"- model score {alert['model_score']:.3f}")
with right:
    st.markdown("**What drove it** (features above the 99th percentile of every call's)")
    drivers = list(alert["drivers"]) if alert["drivers"] is not None else []
    for driver in drivers:
        st.markdown(f"- {driver}")
    if not drivers:
        st.markdown("- none: no feature was unusual against every call's; the rules or the score raised it")
features = alert["features_at_trigger"] or {}
table(pd.DataFrame([features]))

st.markdown(f"**Traffic of {alert['account_id']} per hour around the alert (UTC)**")
hours = fraud.timeline(snapshot, alert["account_id"], raised_at)
if hours.empty:
    st.info("No traffic in the window.")
else:
    # calls and money on separate axes: a count and an amount never share one
    long = hours.rename(columns={"calls": "Calls", "high_risk_calls": "High-risk calls"}).melt(
        id_vars="hour_at", value_vars=["Calls", "High-risk calls"], var_name="measure"
    )
    marker = alt.Chart(pd.DataFrame({"at": [raised_at]})).mark_rule(color="red", strokeDash=[4, 4]).encode(x="at:T")
    counts = (
        alt.Chart(long)
        .mark_line(point=False)
        .encode(x=alt.X("hour_at:T", title="Hour (UTC)"), y=alt.Y("value:Q", title="Calls per hour"),
                color=alt.Color("measure:N", title=None))
    )  # fmt: skip
    spend = (
        alt.Chart(hours)
        .mark_area(opacity=0.6)
        .encode(x=alt.X("hour_at:T", title="Hour (UTC)"), y=alt.Y("exposure_eur:Q", title="Exposure, EUR"))
    )
    st.altair_chart(counts + marker, width="stretch")
    st.altair_chart(spend + marker, width="stretch")
    st.caption(f"Red line: the alert, {raised_at:%Y-%m-%d %H:%M} UTC. Window: {fraud.TIMELINE_BEFORE.days} days "
               f"before to {fraud.TIMELINE_AFTER // timedelta(hours=1)} hours after.")  # fmt: skip

decided_by = blank(alert["decided_by"])
st.markdown(f"**Decision** (now: {alert['status']}{', by ' + decided_by if decided_by else ''})")
with st.form("fraud_decision", clear_on_submit=True):
    note = st.text_input("Note", placeholder="what you found")
    cols = st.columns(3)
    choice = None
    if cols[0].form_submit_button("Confirm fraud", type="primary", disabled=alert["status"] == "confirmed"):
        choice = "confirmed"
    if cols[1].form_submit_button("Dismiss", disabled=alert["status"] == "dismissed"):
        choice = "dismissed"
    if cols[2].form_submit_button("Reopen", disabled=alert["status"] == "open"):
        choice = "open"
    if choice:
        try:
            alert_queue.decide_alert(paths.cases, alert_id, choice, current_user(), note or None)
        except cases.CaseError as error:
            st.error(f"Not saved: {error}")
        else:
            st.session_state["fraud_saved"] = f"{alert_id}: {'reopened' if choice == 'open' else choice}."
            st.rerun()
if saved := st.session_state.pop("fraud_saved", None):
    st.success(saved)
