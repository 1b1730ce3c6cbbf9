"""Leakage: the controls' findings by control, area and value; drill from a finding to the calls that prove it;
work its case (owner, status, note, recovered amount) and read the case's history."""

import pandas as pd
import streamlit as st

from dashboards.app_state import blank, follow_link, link_to, metric_row, money, page, percent, table
from dashboards.case_work import work_case
from dashboards.data import reporting_currency
from dashboards.glossary import PERIOD_END_RATES, TERMS, converted
from dashboards.queries import leakage
from orchestration.assurance import cases

snapshot, role, paths = page(
    "Leakage",
    "fct_leakage_findings",
    "rpt_leakage_kpis",
    "rpt_leakage_evidence",
    "rpt_control_coverage",
    "rpt_revenue_reconciliation",
    needs="bill a month and run the controls (`tollhouse assure`)",
)
currency = reporting_currency(snapshot)
periods = leakage.periods(snapshot)
controls, areas = leakage.control_choices(snapshot)

with st.container(border=True):
    cols = st.columns([2, 3, 3, 3])
    period = cols[0].selectbox("Billing month", [None, *periods], key="leakage_period",
                               format_func=lambda m: "All months" if m is None else f"{m:%Y-%m}")  # fmt: skip
    chosen_controls = cols[1].multiselect("Controls", controls, placeholder="All controls", key="leakage_controls")
    chosen_areas = cols[2].multiselect("Leakage areas", areas, placeholder="All areas", key="leakage_areas")
    directions = cols[3].multiselect("Direction", leakage.DIRECTIONS, placeholder="Any direction", key="leakage_dir")
filters = leakage.FindingFilter(period, chosen_controls, chosen_areas, directions)
found = leakage.findings(snapshot, filters)

kpis = leakage.kpis(snapshot, period, paths.cases)  # as `tollhouse report leakage` computes them
metric_row(
    {
        "Findings": f"{len(found):,}",
        f"Under-billing ({currency})": money(kpis.get("under_billing")),
        f"Over-billing ({currency})": money(kpis.get("over_billing")),
        f"Recoverable ({currency})": money(kpis.get("recoverable")),
        f"Recovered ({currency})": money(kpis.get("recovered")),
        "Leakage % of billed": percent(kpis.get("leakage_pct_of_billed"), 3),
    },
    {
        f"Under-billing ({currency})": TERMS["Leakage"],
        f"Over-billing ({currency})": TERMS["Leakage"],
        f"Recovered ({currency})": TERMS["Recovered"],
        "Leakage % of billed": "Under-billing found as a share of billed revenue. " + TERMS["Billed"],
    },
)
st.caption(f"Amounts in {converted(currency, PERIOD_END_RATES)}.")

st.subheader(f"Value by area and type ({currency})")
by_area = leakage.by_area_and_type(snapshot, filters).rename(columns={"finding_type": "Finding type"})
st.bar_chart(by_area, x="leakage_area", y="leakage", color="Finding type",
             horizontal=True, x_label="Leakage area",
             y_label=f"Leakage, {converted(currency, PERIOD_END_RATES)}")  # fmt: skip

with st.expander("Expected, billed and collected per account (account currency)"):
    table(leakage.reconciliation(snapshot, period), "revenue_reconciliation")
with st.expander("Controls: what each checked and found, by leakage area"):
    table(pd.DataFrame(leakage.kpi_figures(snapshot, period).coverage), "coverage_by_area")
    table(leakage.coverage(snapshot), "control_coverage")

st.subheader("Findings, most valuable first")
table(found.drop(columns=["detail", "subject"]), height=320)
st.download_button("Download findings (CSV)", found.to_csv(index=False), "findings.csv", "text/csv")
if found.empty:
    st.stop()

labels = {
    row.finding_id: f"{row.finding_id} · {row.control_id} {row.finding_type} · {blank(row.account_id) or '-'} · "
    f"{money(row.leakage_amount, row.currency)}"
    for row in found.itertuples()
}
follow_link("finding", "leakage_finding", list(labels))  # ?finding=...: opens that finding
finding_id = st.selectbox("Open finding", list(labels), format_func=labels.get, key="leakage_finding")
link_to("finding", "leakage_finding", finding_id)
finding = found[found["finding_id"] == finding_id].iloc[0]
st.subheader(f"Finding {finding_id}")
explained = blank(finding["detail"]) or blank(finding["subject"]) or ""
st.markdown(f"**{finding['control_id']} {finding['control_name']}**: {explained}")
metric_row(
    {
        "Expected": money(finding["expected_amount"], finding["currency"]),
        "Billed": money(finding["billed_amount"], finding["currency"]),
        "Leakage": money(finding["leakage_amount"], finding["currency"]),
        "Direction": str(finding["direction"]).replace("_", "-"),
    }
)
evidence = leakage.evidence(snapshot, finding_id, role.see_numbers)
st.markdown(f"**Evidence calls** ({len(evidence):,})")
table(evidence)

st.subheader("Case")
case_id = cases.case_of_finding(paths.cases, finding_id)
if case_id is None:
    st.info("This finding is not filed in a case yet: the next assurance run files it.")
    st.stop()
work_case(paths.cases, case_id)
