"""One case as the Leakage and Cases pages show it: its state, the form that works it (owner, workflow
status, note, an amount recovered or refunded), its recovery ledger with the entries waiting for a second
person, and its history. Every edit is one call into orchestration.assurance.cases, written to the case store
at once, with the signed-in user as the actor; a refused one says why and writes nothing more."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards.app_state import metric_row, table
from dashboards.roles import current_user
from orchestration.assurance import cases
from orchestration.assurance.kpis import money_text


def work_case(store: Path, case_id: str) -> cases.CaseDetail:
    """Show and work one case; return it as read before this run's edit (its findings, for the page)."""
    detail = cases.get_case(store, case_id)
    case = detail.case
    got = "Refunded" if case.kind == "refund" else "Recovered"
    metric_row(
        {
            "Case": case.case_id,
            "Status": case.status,
            "Owner": case.owner or "unassigned",
            got: money_text(case.recovered_amount, case.currency) if case.recovered_amount else "–",
        }
    )
    kind = "a refund owed to the customer (over-billing)" if case.kind == "refund" else "revenue to recover"
    st.caption(
        f"{case.title}. Value {money_text(case.leakage_amount, case.currency)}, {len(detail.findings):,} "
        f"finding(s); {kind}."
    )

    with st.form("case_work", clear_on_submit=True):
        st.markdown(f"**Work {case.case_id}** as {current_user()}")
        cols = st.columns(3)
        owner = cols[0].text_input("Assign to", placeholder=case.owner or "owner")
        to_status = cols[1].selectbox("Move to", ["(keep)", *cases.next_statuses(case)], key="case_status")
        recovered = cols[2].text_input(
            f"{got} amount",
            key="case_amount",
            placeholder="0.00",
            help="Added to the case's ledger, up to its value; above ra_recovery_approval_above it waits for a "
            "second person's approval.",
        )
        override = st.checkbox(
            "Above the case's value (an override: needs a reason and a second person's approval)", key="case_override"
        )
        note = st.text_area("Note", help="Kept in the history; the reason of an override.")
        if st.form_submit_button("Save", type="primary"):
            _save(store, case, owner, to_status, recovered, note, override)
    if saved := st.session_state.pop("case_saved", None):
        st.success(saved)

    _ledger(store, detail)

    st.markdown("**History**, newest first (times in UTC)")
    table(
        pd.DataFrame(
            [
                {"at (UTC)": f"{e.at:%Y-%m-%d %H:%M}", "actor": e.actor, "action": e.action,
                 "from": e.from_status or "", "to": e.to_status or "", "note": e.note or "",
                 "amount": "" if e.amount is None else money_text(e.amount, case.currency)}
                for e in reversed(detail.events)
            ]
        )
    )  # fmt: skip
    return detail


def _ledger(store: Path, detail: cases.CaseDetail) -> None:
    """The case's ledger; a pending entry is approved or rejected here by someone other than who entered it,
    and an effective one corrected (a reversal and the right amount)."""
    case = detail.case
    if not detail.entries:
        return
    st.markdown("**Ledger** (the case's amount is the sum of its effective entries)")
    table(
        pd.DataFrame(
            [
                {"entry": e.entry_id, "type": e.action, "amount": money_text(e.amount, case.currency),
                 "state": e.state, "entered by": e.entered_by, "at (UTC)": f"{e.entered_at:%Y-%m-%d %H:%M}",
                 "reason": e.reason or "", "decided by": e.decided_by or "", "decision": e.decision_reason or ""}
                for e in detail.entries
            ]
        )
    )  # fmt: skip
    me = current_user()
    pending = [e for e in detail.entries if e.state == "pending"]
    effective = [e for e in detail.entries if e.state == "effective" and e.action != "reversal"]
    if pending:
        with st.form("case_decide", clear_on_submit=True):
            st.markdown(f"**Approve or reject** a pending entry as {me} (not your own)")
            entry = st.selectbox(
                "Pending entry",
                [e.entry_id for e in pending],
                key="case_decide_entry",
                format_func=lambda i: next(
                    f"entry {e.entry_id}: {money_text(e.amount, case.currency)} by {e.entered_by}"
                    for e in pending
                    if e.entry_id == i
                ),
            )
            reason = st.text_input("Reason for the decision", key="case_decide_reason")
            cols = st.columns(2)
            approve = cols[0].form_submit_button("Approve")
            reject = cols[1].form_submit_button("Reject")
            if approve or reject:
                _act(lambda: cases.decide_recovery(store, case.case_id, entry, me, reason, approve=approve),
                     f"{case.case_id}: entry {entry} {'approved' if approve else 'rejected'}.")  # fmt: skip
    if effective:
        with st.form("case_correct", clear_on_submit=True):
            st.markdown("**Correct** an entry: it is reversed and the right amount recorded (0: none)")
            cols = st.columns(3)
            entry = cols[0].selectbox("Entry", [e.entry_id for e in effective], key="case_correct_entry")
            amount = cols[1].text_input("Right amount", key="case_correct_amount")
            reason = cols[2].text_input("Why it was wrong", key="case_correct_reason")
            if st.form_submit_button("Correct"):
                _act(lambda: cases.correct_recovery(store, case.case_id, entry, _amount(amount), me, reason),
                     f"{case.case_id}: entry {entry} corrected.")  # fmt: skip


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation as error:
        raise cases.CaseError(f"the amount must be a number like 1234.56, got {text!r}") from error


def _act(operation, done: str) -> None:
    try:
        operation()
    except cases.CaseError as error:
        st.error(f"Not saved: {error}")
    else:
        st.session_state["case_saved"] = done
        st.rerun()


def _save(store: Path, case: cases.Case, owner: str, to_status: str, recovered: str, note: str, override: bool) -> None:
    actor, done = current_user(), []
    try:
        amount = _amount(recovered) if recovered.strip() else None
        if owner.strip():
            cases.assign(store, case.case_id, owner, actor)
            done.append(f"assigned to {owner.strip()}")
        closing = to_status in ("recovered", "refunded") and not override
        if amount is not None and not closing:
            entry = cases.record_recovery(store, case.case_id, amount, actor, note or None, override)
            done.append(f"{money_text(amount, case.currency)} recorded ({entry.state})")
        if to_status != "(keep)":
            cases.move(
                store, case.case_id, to_status, actor, note=note or None, recovered_amount=amount if closing else None
            )
            done.append(f"moved to {to_status}")
        elif note.strip() and not (amount is not None and override):
            cases.add_note(store, case.case_id, note, actor)
            done.append("note added")
    except cases.CaseError as error:
        saved = f" (saved before it: {', '.join(done)})" if done else ""
        st.error(f"Not saved: {error}{saved}")
    else:
        if done:
            st.session_state["case_saved"] = f"{case.case_id}: {', '.join(done)}."
            st.rerun()
