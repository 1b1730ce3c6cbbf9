"""One case as the Leakage and Cases pages show it: its state, the form that works it (owner, workflow
status, note, recovered amount) and its history. Every edit is one call into orchestration.assurance.cases, written to
the case store at once; a refused one says why and writes nothing more."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards.app_state import metric_row, money, table
from dashboards.roles import current_user
from orchestration.assurance import cases


def work_case(store: Path, case_id: str) -> cases.CaseDetail:
    """Show and work one case; return it as read before this run's edit (its findings, for the page)."""
    detail = cases.get_case(store, case_id)
    case = detail.case
    metric_row(
        {
            "Case": case.case_id,
            "Status": case.status,
            "Owner": case.owner or "unassigned",
            "Recovered": money(case.recovered_amount, case.currency) if case.recovered_amount else "–",
        }
    )
    st.caption(f"{case.title}. Leakage {money(case.leakage_amount, case.currency)}, {len(detail.findings)} findings.")

    with st.form("case_work", clear_on_submit=True):
        st.markdown(f"**Work {case.case_id}** as {current_user()}")
        cols = st.columns(3)
        owner = cols[0].text_input("Assign to", placeholder=case.owner or "owner")
        to_status = cols[1].selectbox("Move to", ["(keep)", *cases.TRANSITIONS[case.status]], key="case_status")
        recovered = cols[2].text_input("Recovered amount", placeholder=str(case.recovered_amount or "0.00"))
        note = st.text_area("Note")
        if st.form_submit_button("Save", type="primary"):
            _save(store, case, owner, to_status, recovered, note)
    if saved := st.session_state.pop("case_saved", None):
        st.success(saved)

    st.markdown("**History**, newest first")
    table(
        pd.DataFrame(
            [
                {"at": e.at, "actor": e.actor, "action": e.action, "from": e.from_status, "to": e.to_status,
                 "note": e.note, "amount": e.amount}
                for e in reversed(detail.events)
            ]
        )
    )  # fmt: skip
    return detail


def _save(store: Path, case: cases.Case, owner: str, to_status: str, recovered: str, note: str) -> None:
    actor, done = current_user(), []
    try:
        amount = Decimal(recovered.strip()) if recovered.strip() else None
        if owner.strip():
            cases.assign(store, case.case_id, owner, actor)
            done.append(f"assigned to {owner.strip()}")
        if amount is not None and to_status != "recovered":
            cases.set_recovered(store, case.case_id, amount, actor)
            done.append(f"recovered {amount}")
        if to_status != "(keep)":
            cases.move(store, case.case_id, to_status, actor, note=note or None, recovered_amount=amount)
            done.append(f"moved to {to_status}")
        elif note.strip():
            cases.add_note(store, case.case_id, note, actor)
            done.append("note added")
    except (cases.CaseError, InvalidOperation) as error:
        saved = f" (saved before it: {', '.join(done)})" if done else ""
        st.error(f"Not saved: {error}{saved}")
    else:
        if done:
            st.session_state["case_saved"] = f"{case.case_id}: {', '.join(done)}."
            st.rerun()
