"""Revenue leakage: the controls' findings by control, area and value, their evidence calls, the KPIs and the
coverage. The findings come from the snapshot; the cases analysts work are in the case store
(orchestration.assurance.cases), read live, so an edit shows at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboards.data import Snapshot, fx_join, in_reporting, query, reporting_currency, values
from orchestration.assurance.kpis import LeakageKpis, leakage_kpis
from orchestration.warehouse import sql_literal

DIRECTIONS = ("under_billing", "over_billing", "cost", "collection", "none")


def periods(snapshot: Snapshot) -> list[date]:
    frame = query(snapshot, "select distinct billing_period from f order by 1 desc", f="fct_leakage_findings")
    return list(frame["billing_period"])


COVERAGE_COLUMNS = "leakage_area varchar, control_id varchar, items_checked bigint, findings bigint, is_covered boolean"


def kpi_figures(snapshot: Snapshot, period: date | None, store: Path | None = None) -> LeakageKpis:
    """The KPIs as `tollhouse report leakage` and the run summary compute them (orchestration/assurance/kpis.py),
    over the snapshot's marts (rpt_leakage_kpis must be published) and the live case store."""
    con = duckdb.connect()
    try:
        con.execute("create schema marts")
        for table in ("rpt_leakage_kpis", "rpt_control_coverage"):
            if table == "rpt_control_coverage" and not snapshot.has(table):
                con.execute(f"create table marts.{table} ({COVERAGE_COLUMNS})")  # not published yet: no rows
                continue
            # a view takes no parameters: the path is quoted (a data folder's name may hold quotes)
            parquet = sql_literal(snapshot.table(table))
            con.execute(f"create view marts.{table} as select * from read_parquet({parquet})")
        return leakage_kpis(con, store, period)
    finally:
        con.close()


def _store_stamp(store: Path | None) -> tuple:
    """What changes when an analyst edits a case: the case store's files' sizes and modification times (its
    write-ahead log included), so cached KPIs are read again after any edit."""
    if store is None:
        return ()
    files = (store, store.with_name(store.name + "-wal"))
    return tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None for f in files)


@st.cache_data(ttl=3600, max_entries=200, show_spinner=False)
def _cached_kpis(folder: str, period: date | None, store: str | None, stamp: tuple, _snapshot: Snapshot) -> LeakageKpis:
    # keyed by the snapshot's folder (a published one never changes); `_snapshot` itself is not hashed
    return kpi_figures(_snapshot, period, Path(store) if store else None)


def kpis(snapshot: Snapshot, period: date | None, store: Path | None = None) -> dict:
    """The period's KPIs in the reporting currency (all periods when None): billed, leakage by direction,
    recoverable and recovered, leakage % of billed, recoverable and recovered %, match rate. Cached per
    snapshot, period and state of the case store (the Overview reads them on every visit)."""
    total = _cached_kpis(
        str(snapshot.folder), period, str(store) if store else None, _store_stamp(store), snapshot
    ).total
    return {
        "billed": total["billed_revenue"],
        "under_billing": total["under_billing"],
        "over_billing": total["over_billing"],
        "cost_leakage": total["cost_leakage"],
        "collection_leakage": total["collection_leakage"],
        "recoverable": total["recoverable"],
        "recovered": total["recovered"],
        "findings": total["findings"],
        "leakage_pct_of_billed": total["leakage_pct_of_billed"],
        "recoverable_pct": total["recoverable_pct"],
        "recovered_pct": total["recovered_pct"],
        "match_rate_pct": total["match_rate_pct"],
    }


def by_period(snapshot: Snapshot) -> pd.DataFrame:
    """Leakage per period and direction in the reporting currency (the overview's trend)."""
    return query(
        snapshot,
        """unpivot (select strftime(billing_period, '%Y-%m') as month,
                       cast(sum(under_billing_reporting) as double) as under_billing,
                       cast(sum(over_billing_reporting) as double) as over_billing,
                       cast(sum(cost_leakage_reporting) as double) as cost,
                       cast(sum(collection_leakage_reporting) as double) as collection
                    from k group by 1)
           on under_billing, over_billing, cost, collection into name direction value leakage
           order by month, direction""",
        k="rpt_leakage_kpis",
    )


@dataclass(frozen=True)
class FindingFilter:
    """The leakage page's filters; None or empty means everything."""

    period: date | None = None
    controls: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)

    def params(self, snapshot: Snapshot) -> dict:
        return {
            "period": self.period,
            "controls": self.controls or None,
            "areas": self.areas or None,
            "directions": self.directions or None,
            "reporting": reporting_currency(snapshot),
        }


FINDINGS_WHERE = """
where ($period is null or f.billing_period = $period)
  and ($controls is null or f.control_id in (select unnest($controls)))
  and ($areas is null or f.leakage_area in (select unnest($areas)))
  and ($directions is null or f.direction in (select unnest($directions)))
"""


def findings(snapshot: Snapshot, filters: FindingFilter) -> pd.DataFrame:
    """Findings, the most valuable first (by value in the reporting currency)."""
    return query(
        snapshot,
        f"""select f.finding_id, f.control_id, f.control_name, f.leakage_area, f.finding_type, f.account_id,
                   f.billing_period, f.direction, f.currency, f.expected_amount, f.billed_amount, f.leakage_amount,
                   {in_reporting("f.leakage_amount", "f.currency")} as leakage_reporting,
                   f.is_recoverable, f.evidence_calls, f.subject, f.detail, f.first_seen_on
            from f {fx_join("f.currency", "last_day(f.billing_period)")}
            {FINDINGS_WHERE}
            order by leakage_reporting desc nulls last, f.finding_id""",
        filters.params(snapshot),
        f="fct_leakage_findings",
        fx="dim_fx_rates",
    )


def by_area_and_type(snapshot: Snapshot, filters: FindingFilter) -> pd.DataFrame:
    """Findings and their value in the reporting currency per leakage area and finding type."""
    return query(
        snapshot,
        f"""select f.leakage_area, f.finding_type, count(*) as findings,
                   cast(sum({in_reporting("f.leakage_amount", "f.currency")}) as double) as leakage
            from f {fx_join("f.currency", "last_day(f.billing_period)")}
            {FINDINGS_WHERE}
            group by all order by leakage desc nulls last""",
        filters.params(snapshot),
        f="fct_leakage_findings",
        fx="dim_fx_rates",
    )


def control_choices(snapshot: Snapshot) -> tuple[list[str], list[str]]:
    """The controls (id: name) and leakage areas the findings name."""
    frame = query(
        snapshot,
        "select list(distinct control_id order by control_id) as controls, "
        "list(distinct leakage_area order by leakage_area) as areas from f",
        f="fct_leakage_findings",
    )
    return values(frame["controls"][0]), values(frame["areas"][0])


def evidence(snapshot: Snapshot, finding_id: str, see_numbers: bool) -> pd.DataFrame:
    """The calls that prove a finding, with what mediation and rating made of them."""
    return query(
        snapshot,
        """select call_id, call_state, start_at, account_id, switch_id, masked(a_number, $see) as a_number,
                  masked(b_number, $see) as b_number, destination_country, call_type, disposition,
                  billable_seconds, rate_plan_id, matched_prefix, billed_seconds, rated_charge, currency,
                  vendor_id, vendor_cost, margin, file_id, line_no
           from e where finding_id = $finding order by start_at, call_id""",
        {"finding": finding_id, "see": see_numbers},
        e="rpt_leakage_evidence",
    )


def coverage(snapshot: Snapshot) -> pd.DataFrame:
    return query(snapshot, "select * from c order by leakage_area, control_id", c="rpt_control_coverage")


def reconciliation(snapshot: Snapshot, period: date | None) -> pd.DataFrame:
    """Expected, billed and collected revenue per account and period (account currency), the difference and
    how much of it the findings explain."""
    return query(
        snapshot,
        """select account_id, billing_period, currency, cast(expected as decimal(18, 2)) as expected,
                  cast(billed as decimal(18, 2)) as billed, collected, outstanding,
                  cast(difference as decimal(18, 2)) as difference,
                  cast(explained_by_findings as decimal(18, 2)) as explained_by_findings,
                  cast(unexplained as decimal(18, 2)) as unexplained, findings
           from r where $period is null or billing_period = $period
           order by abs(difference) desc, account_id, billing_period""",
        {"period": period},
        r="rpt_revenue_reconciliation",
    )
