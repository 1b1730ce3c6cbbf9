"""The revenue-assurance KPIs, computed in one place for `tollhouse report leakage`, the run summary
(`make run`, `tollhouse summary`) and the dashboards (docs/assurance.md, "KPIs").

The warehouse side comes from two marts: `rpt_leakage_kpis` (per period and currency: billed and expected
revenue, the findings' leakage by direction, the recoverable part, the CDR-to-bill match, the period-end FX
rate to the reporting currency) and `rpt_control_coverage` (what every control checked and found). The case
side (what analysts recovered) comes from the case store (orchestration/assurance/cases.py). Whoever calls gives a
DuckDB connection on which `marts.rpt_leakage_kpis` and `marts.rpt_control_coverage` can be read: the
warehouse, or views over a published snapshot.

Definitions, per currency and in the reporting currency:
- leakage found by direction: under-billing (revenue lost), over-billing (customer harm), cost (margin lost
  on negative-margin routes), collection (money billed and not received);
- recovered: what analysts recovered on cases about revenue (under-billing and collection); a refund of
  over-billing is not revenue recovered (cases.case_kpis);
- leakage % of billed revenue: under-billing / billed revenue;
- recoverable %: the recoverable findings' leakage / (under-billing + collection); recovered % likewise;
- control coverage by area: the catalogue's controls of each area and those that checked something.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb

from orchestration.assurance import cases as case_store
from orchestration.warehouse import fetch_dicts

CENT = Decimal("0.01")  # totals in the reporting currency are rounded half up to the cent
DIRECTIONS = ("under_billing", "over_billing", "cost_leakage", "collection_leakage")


@dataclass(frozen=True)
class LeakageKpis:
    period: date | None  # None: every period under assurance
    reporting_currency: str
    per_currency: list[dict]  # one row per period's currency (all periods summed when period is None)
    total: dict  # the same figures in the reporting currency, over every currency
    coverage: list[dict]  # per leakage area: controls, covered, items checked, findings, covered %
    case_figures: case_store.CaseKpis | None  # the case side (None without a case store)


def _pct(part: Decimal | None, whole: Decimal | None, places: int = 2) -> Decimal | None:
    if part is None or not whole:
        return None
    return round(100 * Decimal(part) / Decimal(whole), places)


def _recovered(store: Path | None, periods: list[date]) -> dict[tuple[date, str], Decimal]:
    """Recovered amounts per period and currency from the case store (nothing without one)."""
    if store is None or not store.exists():
        return {}
    out = {}
    for period in periods:
        for currency, amount in case_store.case_kpis(store, period).recovered.items():
            out[period, currency] = amount
    return out


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
    recovered = _recovered(store, sorted({r["billing_period"] for r in rows}))
    per_currency: dict[str, dict] = {}
    total = dict.fromkeys(("billed_revenue", "expected_revenue", *DIRECTIONS, "recoverable", "recovered"), Decimal(0))
    total |= {"findings": 0, "expected_calls": 0, "matched_calls": 0, "unconverted_currencies": []}
    for r in rows:
        got = recovered.get((r["billing_period"], r["currency"]), Decimal(0))
        row = per_currency.setdefault(
            r["currency"],
            {"currency": r["currency"], "findings": 0, "expected_calls": 0, "matched_calls": 0}
            | dict.fromkeys(("billed_revenue", "expected_revenue", "invoiced_total", "collected", *DIRECTIONS,
                             "recoverable", "recovered"), Decimal(0)),
        )  # fmt: skip
        for key in ("billed_revenue", "expected_revenue", "invoiced_total", "collected", *DIRECTIONS, "recoverable"):
            row[key] += r[key] or 0
        for key in ("findings", "expected_calls", "matched_calls"):
            row[key] += r[key] or 0
            total[key] += r[key] or 0
        row["recovered"] += got
        if r["fx_rate"] is None:  # no rate to the reporting currency: left out of the totals, and said so
            total["unconverted_currencies"].append(r["currency"])
            continue
        # each period and currency converted and rounded to the cent, then added (as the mart's own
        # *_reporting columns are), so that every reader shows the same cents
        rate = Decimal(r["fx_rate"])
        for key in ("billed_revenue", *DIRECTIONS):
            total[key] += r[f"{key}_reporting"] or 0
        for key, amount in (("expected_revenue", r["expected_revenue"]), ("recoverable", r["recoverable"]),
                            ("recovered", got)):  # fmt: skip
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
        case_figures=case_store.case_kpis(store, period) if store is not None and store.exists() else None,
    )


def _ratios(row: dict) -> None:
    revenue_leakage = row["under_billing"] + row["collection_leakage"]
    row["leakage_pct_of_billed"] = _pct(row["under_billing"], row["billed_revenue"], 4)
    row["recoverable_pct"] = _pct(row["recoverable"], revenue_leakage)
    row["recovered_pct"] = _pct(row["recovered"], revenue_leakage)
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
