"""The cases page: the analysts' case queue and its KPIs, read live from the case store (orchestration.assurance.cases),
and a case's findings as the snapshot has them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from dashboards.data import Snapshot, query
from orchestration.assurance import cases, kpis
from orchestration.billing.invoices.formatting import cents

OPEN_STATUSES = kpis.WORKING  # still being worked
RECOVERY_COLUMNS = ["currency", "leakage worked", "recovered", "recovered %", "refunds owed", "refunded"]
COLUMNS = ["case_id", "status", "owner", "title", "control_id", "account_id", "billing_period", "currency",
           "leakage_amount", "recovered_amount", "updated_at"]  # fmt: skip


def queue(store: Path, statuses: list[str] | None = None, owner: str | None = None, period: date | None = None):
    """Cases in the workflow's order of status, the largest leakage first within a status."""
    if not store.exists():
        return pd.DataFrame(columns=COLUMNS)
    listed = cases.list_cases(store, owner=owner, period=period)
    rows = [{column: getattr(case, column) for column in COLUMNS} for case in listed
            if not statuses or case.status in statuses]  # fmt: skip
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for money in ("leakage_amount", "recovered_amount"):  # shown to the cent; the store keeps every place
        frame[money] = [cents(v) for v in frame[money]]
    order = {status: i for i, status in enumerate(cases.STATUSES)}
    return frame.sort_values(
        ["status", "leakage_amount", "case_id"], key=lambda c: c.map(order) if c.name == "status" else c,
        ascending=[True, False, True],
    ).reset_index(drop=True)  # fmt: skip


def owners(store: Path) -> list[str]:
    return sorted({case.owner for case in cases.list_cases(store) if case.owner}) if store.exists() else []


def findings_of(snapshot: Snapshot, finding_ids: list[str]) -> pd.DataFrame:
    """The case's findings as the snapshot has them (a finding the last run no longer produced is absent)."""
    return query(
        snapshot,
        """select finding_id, control_id, finding_type, account_id, billing_period, currency, expected_amount,
                  billed_amount, leakage_amount, direction, evidence_calls, detail
           from f where finding_id in (select unnest($ids)) order by leakage_amount desc, finding_id""",
        {"ids": finding_ids},
        f="fct_leakage_findings",
    )


def recovery_table(figures: kpis.CaseKpis) -> pd.DataFrame:
    """The case KPIs per currency as the Cases page shows them: the figures of kpis.case_kpis, formatted
    (the currency's decimals, thousands separated), never recomputed here."""
    rows = [
        {
            "currency": cur,
            "leakage worked": kpis.money_text(figures.leakage[cur], cur),
            "recovered": kpis.money_text(figures.recovered[cur], cur),
            "recovered %": "–" if figures.recovered_pct[cur] is None else f"{figures.recovered_pct[cur]:.2f} %",
            "refunds owed": kpis.money_text(figures.refunds_owed[cur], cur),
            "refunded": kpis.money_text(figures.refunded[cur], cur),
        }
        for cur in sorted(figures.leakage)
    ]
    return pd.DataFrame(rows, columns=RECOVERY_COLUMNS)
