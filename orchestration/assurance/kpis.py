"""The revenue-assurance KPIs, computed in one place for `tollhouse report leakage`, `tollhouse case list`, the
run summary (`make run`, `tollhouse summary`) and the dashboards (docs/assurance.md, "KPIs").

The warehouse side comes from two marts: `rpt_leakage_kpis` (per period and currency: billed and expected
revenue, the findings' leakage by direction, the recoverable part, the CDR-to-bill match, the period-end FX
rate to the reporting currency) and `rpt_control_coverage` (what every control checked and found). The case
side (what analysts recovered and refunded) comes from the case store (orchestration/assurance/cases.py):
`case_kpis` is the only place it is computed. Whoever calls `leakage_kpis` gives a DuckDB connection on which
`marts.rpt_leakage_kpis` and `marts.rpt_control_coverage` can be read: the warehouse, or views over a
published snapshot.

Definitions, per currency and in the reporting currency:
- leakage found by direction: under-billing (revenue lost), over-billing (customer harm), cost (margin lost
  on negative-margin routes), collection (money billed and not received);
- cases worked: the cases not cancelled. Revenue cases (every case but a refund case) carry the leakage
  worked and what was recovered; refund cases (their findings over-billed the customer) carry the refunds
  owed and refunded, never counted as recovered;
- recovered: the sum of the effective entries of the revenue cases' ledgers; recovered % = recovered / the
  leakage of the revenue cases worked. A case's entries stay within its value unless an approved override,
  so the % is within 0..100 unless an override was approved;
- leakage % of billed revenue: under-billing / billed revenue;
- recoverable %: the recoverable findings' leakage / (under-billing + collection);
- open cases: the cases still being worked (WORKING statuses), and their ageing since they were opened;
- control coverage by area: the catalogue's controls of each area and those that checked something.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb

from orchestration.assurance import cases as case_store
from orchestration.warehouse import fetch_dicts

CENT = Decimal("0.01")  # totals in the reporting currency are rounded half up to the cent
DIRECTIONS = ("under_billing", "over_billing", "cost_leakage", "collection_leakage")


WORKING = ("open", "investigating", "confirmed", "recovery_pending", "refund_due")  # still being worked
AGEING = (("0-30 days", 0, 30), ("31-60 days", 31, 60), ("61-90 days", 61, 90), ("over 90 days", 91, None))
MINOR_UNITS = case_store.MINOR_UNITS  # the currencies' decimals


def money_text(amount: Decimal | int | str | None, currency: str | None = "", exact: bool = False) -> str:
    """An amount as every case reader shows it: the currency's decimals (half up), thousands separated,
    followed by the currency; '-' when there is none. `exact` keeps the places beyond them (a message about
    0.001 must not say 0.00)."""
    if amount is None:
        return "-"
    places = MINOR_UNITS.get(currency or "", 2)
    if exact:
        places = max(places, -Decimal(amount).normalize().as_tuple().exponent)
    shown = Decimal(amount).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return f"{shown:,.{places}f} {currency or ''}".rstrip()


@dataclass(frozen=True)
class CaseKpis:
    """The case side of the KPIs, per currency (every currency of a case with money, zero filled)."""

    cases: int
    by_status: dict[str, int]  # every status, zero included
    leakage: dict[str, Decimal]  # leakage of the revenue cases worked (not cancelled)
    recovered: dict[str, Decimal]  # the effective ledger entries of those cases
    mean_days_to_recovery: float | None  # opened -> recovered (or refunded), over the cases that got there
    refunded: dict[str, Decimal]  # the effective ledger entries of the refund cases
    below_materiality: int = 0  # present findings filed without a case
    recovered_pct: dict[str, Decimal | None] | None = None  # recovered / leakage, 2 places; None: no leakage
    refunds_owed: dict[str, Decimal] | None = None  # leakage of the refund cases worked (not cancelled)
    open_cases: int = 0  # in a WORKING status
    ageing: dict[str, int] | None = None  # open cases by days since opened (AGEING buckets)
    pending_approval: int = 0  # ledger entries waiting for a second person


def case_kpis(store: Path, period: date | None = None, today: date | None = None) -> CaseKpis:
    """The case KPIs of one billing month (every month when None), as of `today` for the ageing."""
    listed = case_store.list_cases(store, period=period)
    today = today or datetime.now(UTC).date()
    by_status = dict.fromkeys(case_store.STATUSES, 0)
    money = {name: {} for name in ("leakage", "recovered", "refunds_owed", "refunded")}
    days, ageing = [], dict.fromkeys((label for label, _, _ in AGEING), 0)
    for case in listed:
        by_status[case.status] += 1
        if case.status in WORKING:
            age = max(0, (today - case.created_at.date()).days)
            ageing[next(label for label, low, high in AGEING if low <= age and (high is None or age <= high))] += 1
        if case.recovered_at is not None:
            days.append((case.recovered_at - case.created_at).total_seconds() / 86400)
        if case.status == "cancelled" or case.currency is None:  # no money: counted by status only
            continue
        found, got = ("leakage", "recovered") if case.kind == "revenue" else ("refunds_owed", "refunded")
        for name in money:
            money[name].setdefault(case.currency, Decimal(0))
        money[found][case.currency] += case.leakage_amount
        money[got][case.currency] += case.recovered_amount or 0
    ids = {case.case_id for case in listed}
    pending = sum(case_id in ids for case_id, _ in case_store.pending_entries(store))
    below = len(case_store.below_materiality(store, period))
    pct = {cur: _pct(money["recovered"][cur], leakage) for cur, leakage in money["leakage"].items()}
    return CaseKpis(
        cases=len(listed),
        by_status=by_status,
        leakage=money["leakage"],
        recovered=money["recovered"],
        mean_days_to_recovery=sum(days) / len(days) if days else None,
        refunded=money["refunded"],
        below_materiality=below,
        recovered_pct=pct,
        refunds_owed=money["refunds_owed"],
        open_cases=sum(by_status[s] for s in WORKING),
        ageing=ageing,
        pending_approval=pending,
    )


@dataclass(frozen=True)
class LeakageKpis:
    period: date | None  # None: every period under assurance
    reporting_currency: str
    per_currency: list[dict]  # one row per period's currency (all periods summed when period is None)
    total: dict  # the same figures in the reporting currency, over every currency
    coverage: list[dict]  # per leakage area: controls, covered, items checked, findings, covered %
    case_figures: CaseKpis | None  # the case side (None without a case store)


def _pct(part: Decimal | None, whole: Decimal | None, places: int = 2) -> Decimal | None:
    if part is None or not whole:
        return None
    return round(100 * Decimal(part) / Decimal(whole), places)


def _case_side(store: Path | None, periods: list[date]) -> dict[tuple[date, str], dict[str, Decimal]]:
    """Per period and currency, the case KPIs leakage_kpis adds to the warehouse's (nothing without a store)."""
    if store is None or not store.exists():
        return {}
    out = {}
    for period in periods:
        figures = case_kpis(store, period)
        for currency in figures.leakage:
            out[period, currency] = {"recovered": figures.recovered[currency],
                                     "case_leakage": figures.leakage[currency],
                                     "refunds_owed": figures.refunds_owed[currency],
                                     "refunded": figures.refunded[currency]}  # fmt: skip
    return out


CASE_SIDE = ("case_leakage", "recovered", "refunds_owed", "refunded")


def leakage_kpis(con: duckdb.DuckDBPyConnection, store: Path | None, period: date | None = None) -> LeakageKpis:
    """The KPIs of one period under assurance (every period when None)."""
    rows = fetch_dicts(
        con,
        """select billing_period, currency, reporting_currency, fx_rate, billed_revenue, expected_revenue,
                  invoiced_total, collected, findings, under_billing, over_billing, cost_leakage,
                  collection_leakage, recoverable, expected_calls, matched_calls, billed_revenue_reporting,
                  under_billing_reporting, over_billing_reporting, cost_leakage_reporting,
                  collection_leakage_reporting
           from marts.rpt_leakage_kpis where ?::date is null or billing_period = ?
           order by billing_period, currency""",
        [period, period],
    )
    reporting = rows[0]["reporting_currency"] if rows else _reporting(con)
    side = _case_side(store, sorted({r["billing_period"] for r in rows}))
    per_currency: dict[str, dict] = {}
    total = dict.fromkeys(("billed_revenue", "expected_revenue", *DIRECTIONS, "recoverable", *CASE_SIDE), Decimal(0))
    total |= {"findings": 0, "expected_calls": 0, "matched_calls": 0, "unconverted_currencies": []}
    for r in rows:
        got = side.get((r["billing_period"], r["currency"]), dict.fromkeys(CASE_SIDE, Decimal(0)))
        row = per_currency.setdefault(
            r["currency"],
            {"currency": r["currency"], "findings": 0, "expected_calls": 0, "matched_calls": 0}
            | dict.fromkeys(("billed_revenue", "expected_revenue", "invoiced_total", "collected", *DIRECTIONS,
                             "recoverable", *CASE_SIDE), Decimal(0)),
        )  # fmt: skip
        for key in ("billed_revenue", "expected_revenue", "invoiced_total", "collected", *DIRECTIONS, "recoverable"):
            row[key] += r[key] or 0
        for key in ("findings", "expected_calls", "matched_calls"):
            row[key] += r[key] or 0
            total[key] += r[key] or 0
        for key in CASE_SIDE:
            row[key] += got[key]
        if r["fx_rate"] is None:  # no rate to the reporting currency: left out of the totals, and said so
            total["unconverted_currencies"].append(r["currency"])
            continue
        # each period and currency converted and rounded to the cent, then added (as the mart's own
        # *_reporting columns are), so that every reader shows the same cents
        rate = Decimal(r["fx_rate"])
        for key in ("billed_revenue", *DIRECTIONS):
            total[key] += r[f"{key}_reporting"] or 0
        for key, amount in (("expected_revenue", r["expected_revenue"]), ("recoverable", r["recoverable"]),
                            *got.items()):  # fmt: skip
            total[key] += (Decimal(amount or 0) * rate).quantize(CENT, ROUND_HALF_UP)
    for row in per_currency.values():
        _ratios(row)
    total["currency"] = reporting
    _ratios(total)
    return LeakageKpis(
        period=period,
        reporting_currency=reporting,
        per_currency=list(per_currency.values()),
        total=total,
        coverage=coverage_by_area(con),
        case_figures=case_kpis(store, period) if store is not None and store.exists() else None,
    )


def _ratios(row: dict) -> None:
    revenue_leakage = row["under_billing"] + row["collection_leakage"]
    row["leakage_pct_of_billed"] = _pct(row["under_billing"], row["billed_revenue"], 4)
    row["recoverable_pct"] = _pct(row["recoverable"], revenue_leakage)
    row["recovered_pct"] = _pct(row["recovered"], row["case_leakage"])  # of the revenue cases worked
    row["match_rate_pct"] = _pct(row["matched_calls"], row["expected_calls"], 4)


def _reporting(con: duckdb.DuckDBPyConnection) -> str:
    (found,) = con.execute("select any_value(reporting_currency) from marts.rpt_leakage_kpis").fetchone()
    return found or ""


def coverage_by_area(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per leakage area of the control catalogue: its controls, those that checked something (covered),
    what they checked and found, and the covered share."""
    rows = fetch_dicts(
        con,
        """select leakage_area, count(*) as controls, count(*) filter (where is_covered) as covered,
                  sum(items_checked)::bigint as items_checked, sum(findings)::bigint as findings
           from marts.rpt_control_coverage group by leakage_area order by leakage_area""",
    )
    for row in rows:
        row["covered_pct"] = _pct(Decimal(row["covered"]), Decimal(row["controls"]))
    return rows
