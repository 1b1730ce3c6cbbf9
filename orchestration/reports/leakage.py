"""`tollhouse report leakage --period YYYY-MM`: the leakage report a revenue-assurance manager sends on.

For one period under assurance: the KPIs per currency and in the reporting currency (leakage as % of billed
revenue, recoverable %, recovered %, mean days to recovery, match rate), leakage by TM Forum area and
finding type, control coverage, and the top cases by value with their evidence (the calls, or the files,
charges and invoices the finding names). Figures come from the warehouse's assurance marts; the work on
cases (status, owner, recovered amounts) from the case store beside it (orchestration/assurance/cases.py).
Text for the terminal, CSV for a spreadsheet, HTML (self-contained, with a chart) for e-mail.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from orchestration.assurance import cases as case_store
from orchestration.assurance.kpis import leakage_kpis
from orchestration.warehouse import fetch_dicts

TOP_CASES = 10
EVIDENCE_SHOWN = 5  # call ids listed per case; the count says how many there are


@dataclass(frozen=True)
class CaseLine:
    case: case_store.Case
    findings: int
    evidence: list[str]
    evidence_calls: int
    detail: str


@dataclass(frozen=True)
class LeakageReport:
    period: date
    as_of: date | None
    reporting_currency: str
    kpis: list[dict]  # one per currency (orchestration/assurance/kpis.py) with the cases' recovered figures
    total: dict  # the same in the reporting currency
    coverage_by_area: list[dict]
    below_materiality: list[case_store.BelowMateriality]  # findings filed without a case
    by_area: list[dict]  # leakage_area, finding_type, currency, findings, leakage
    coverage: list[dict]  # rpt_control_coverage
    top_cases: list[CaseLine]
    mean_days_to_recovery: float | None


class ReportError(Exception):
    """The period cannot be reported: not under assurance, or the controls have not run."""


def build(con: duckdb.DuckDBPyConnection, store: Path, period: date) -> LeakageReport:
    (exists,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' and "
        "table_name = 'fct_leakage_findings'"
    ).fetchone()
    if not exists:
        raise ReportError("the revenue-assurance controls have not run here: run `tollhouse assure` first")
    listed = con.execute("select billing_period from intermediate.int_ra_periods_selected order by 1").fetchall()
    periods = [p for (p,) in listed]
    if period not in periods:
        known = ", ".join(f"{p:%Y-%m}" for p in periods) or "none"
        raise ReportError(f"{period:%Y-%m} is not under assurance (periods the billing system exported: {known})")
    figures = leakage_kpis(con, store, period)
    case_figures = figures.case_figures
    by_area = fetch_dicts(
        con,
        """select leakage_area, finding_type, coalesce(currency, '') as currency, count(*) as findings,
                  sum(leakage_amount) as leakage, any_value(direction) as direction
           from marts.fct_leakage_findings where billing_period = ?
           group by all order by leakage_area, finding_type, currency""",
        [period],
    )
    coverage = fetch_dicts(
        con,
        """select c.leakage_area, c.control_id, c.control_name, c.items_checked, c.is_covered,
                  count(f.finding_id) as findings
           from marts.rpt_control_coverage c
           left join marts.fct_leakage_findings f on f.control_id = c.control_id and f.billing_period = ?
           group by all order by c.leakage_area, c.control_id""",
        [period],
    )
    (as_of,) = con.execute("select max(as_of_date) from intermediate.int_ra_periods_selected").fetchone()
    return LeakageReport(
        period=period,
        as_of=as_of,
        reporting_currency=figures.reporting_currency,
        kpis=figures.per_currency,
        total=figures.total,
        coverage_by_area=figures.coverage,
        below_materiality=case_store.below_materiality(store, period) if store.exists() else [],
        by_area=by_area,
        coverage=coverage,
        top_cases=_top_cases(con, store, period) if store.exists() else [],
        mean_days_to_recovery=case_figures.mean_days_to_recovery if case_figures else None,
    )


def _top_cases(con: duckdb.DuckDBPyConnection, store: Path, period: date) -> list[CaseLine]:
    ranked = sorted(
        (c for c in case_store.list_cases(store, period=period) if c.status != "cancelled"),
        key=lambda c: (-c.leakage_amount, c.case_id),
    )[:TOP_CASES]
    out = []
    for case in ranked:
        finding_ids = [f.finding_id for f in case_store.get_case(store, case.case_id).findings if f.present]
        con.execute("create or replace temp table report_case_findings (finding_id varchar)")
        con.executemany("insert into report_case_findings values (?)", [(f,) for f in finding_ids])
        evidence, calls, detail = con.execute(
            """select list_distinct(flatten(list(evidence_call_ids order by leakage_amount desc)))[1:?],
                      coalesce(sum(evidence_calls), 0),
                      arg_max(detail, leakage_amount)
               from marts.fct_leakage_findings where finding_id in (select finding_id from report_case_findings)""",
            [EVIDENCE_SHOWN],
        ).fetchone()
        out.append(CaseLine(case, len(finding_ids), evidence or [], int(calls), detail or ""))
    return out


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def render_text(report: LeakageReport) -> str:
    lines = [
        f"Revenue leakage report {report.period:%Y-%m} (data as of {report.as_of})",
        "",
        "KPIs                      " + "".join(f"{k['currency']:>14}" for k in report.kpis),
    ]
    rows = [
        ("billed revenue", "billed_revenue"),
        ("under-billing (lost)", "under_billing"),
        ("over-billing (harm)", "over_billing"),
        ("negative margin", "cost_leakage"),
        ("collection overdue", "collection_leakage"),
        ("recoverable", "recoverable"),
        ("leakage in cases worked", "case_leakage"),
        ("recovered", "recovered"),
        ("refunds owed (cases)", "refunds_owed"),
        ("refunded", "refunded"),
    ]
    for label, key in rows:
        lines.append(f"  {label:<24}" + "".join(f"{_money(k[key]):>14}" for k in report.kpis))
    for label, key in (("leakage % of billed", "leakage_pct_of_billed"), ("recoverable %", "recoverable_pct"),
                       ("recovered %", "recovered_pct"), ("match rate %", "match_rate_pct")):  # fmt: skip
        lines.append(f"  {label:<24}" + "".join(f"{'' if k[key] is None else k[key]:>14}" for k in report.kpis))
    t, cur = report.total, report.reporting_currency
    pct = "n/a" if t["leakage_pct_of_billed"] is None else f"{t['leakage_pct_of_billed']:.3f}%"
    days = "n/a" if report.mean_days_to_recovery is None else f"{report.mean_days_to_recovery:.1f}"
    lines += [
        f"  all currencies in {cur}: under-billing {_money(t['under_billing'])} of {_money(t['billed_revenue'])} "
        f"billed ({pct}); over-billing {_money(t['over_billing'])}; negative margin {_money(t['cost_leakage'])}; "
        f"collection {_money(t['collection_leakage'])}; recovered {_money(t['recovered'])} of "
        f"{_money(t['case_leakage'])} in cases worked; refunds owed {_money(t['refunds_owed'])}; "
        f"refunded {_money(t['refunded'])}; mean days to recovery {days}",
        "",
        "Leakage by area and type",
    ]
    for row in report.by_area:
        lines.append(
            f"  {row['leakage_area']:<17}{row['finding_type']:<28}{row['findings']:>7} finding(s)"
            f"{_money(row['leakage']):>14} {row['currency']}"
        )
    lines += ["", "Control coverage by area"]
    for row in report.coverage_by_area:
        lines.append(
            f"  {row['leakage_area']:<17}{row['covered']} of {row['controls']} control(s) covered"
            f"{row['items_checked']:>12} checked{row['findings']:>8} found"
        )
    lines += ["", "Control coverage"]
    for row in report.coverage:
        mark = "covered" if row["is_covered"] else "NOT COVERED"
        lines.append(
            f"  {row['leakage_area']:<17}{row['control_id']} {row['control_name']:<40}"
            f"{row['items_checked']:>10} checked"
            f"{row['findings']:>7} found  {mark}"
        )
    if report.below_materiality:
        below = report.below_materiality
        lines += ["", f"Below materiality: {len(below)} finding(s) filed without a case (largest first)"]
        for b in below[:TOP_CASES]:
            lines.append(
                f"  {b.finding_id} {b.control_id} {b.finding_type:<24}{b.account_id or '-':<14}"
                f"{_money(b.leakage_amount):>12} {b.currency or ''}"
            )
    lines += ["", f"Top {len(report.top_cases)} cases by value"]
    for line in report.top_cases:
        c = line.case
        lines.append(
            f"  {c.case_id} {c.status:<17}{c.title:<52}{_money(c.leakage_amount):>12} {c.currency or ''}"
            f"  owner {c.owner or '-'}, recovered {_money(c.recovered_amount) or '0.00'}"
        )
        lines.append(f"      {line.findings} finding(s); {line.detail}")
        if line.evidence:
            hidden = line.evidence_calls - len(line.evidence)
            more = f" (+{hidden} more)" if hidden > 0 else ""
            lines.append(f"      evidence calls: {', '.join(line.evidence)}{more}")
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ("section", "leakage_area", "finding_type", "case_id", "status", "account_id", "currency",
               "findings", "leakage_amount", "recovered_amount", "evidence")  # fmt: skip


def render_csv(report: LeakageReport) -> str:
    """One table: the totals by area and type, then the top cases with their evidence."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.by_area:
        writer.writerow(("area_type", row["leakage_area"], row["finding_type"], "", "", "", row["currency"],
                         row["findings"], row["leakage"], "", ""))  # fmt: skip
    for line in report.top_cases:
        c = line.case
        writer.writerow(("case", "", c.finding_type, c.case_id, c.status, c.account_id or "", c.currency or "",
                         line.findings, c.leakage_amount, c.recovered_amount or "",
                         " ".join(line.evidence) or line.detail))  # fmt: skip
    return buffer.getvalue()


def _bars(report: LeakageReport) -> str:
    """An inline SVG bar per leakage area: its leakage in the reporting currency's terms is not known per
    finding, so bars compare counts of findings and amounts per currency side by side."""
    totals: dict[str, Decimal] = {}
    for row in report.by_area:
        if row["currency"]:
            key = f"{row['leakage_area']} ({row['currency']})"
            totals[key] = totals.get(key, Decimal(0)) + row["leakage"]
    if not totals:
        return ""
    top = max(totals.values()) or Decimal(1)
    height, width = 22, 420
    parts = [f'<svg width="{width + 260}" height="{height * len(totals) + 10}" role="img">']
    for i, (label, value) in enumerate(sorted(totals.items(), key=lambda kv: -kv[1])):
        bar = int(width * value / top)
        y = i * height + 5
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(label)}</text>')
        parts.append(f'<rect x="180" y="{y}" width="{bar}" height="{height - 6}" fill="#c0392b"/>')
        parts.append(f'<text x="{185 + bar}" y="{y + 15}" font-size="12">{_money(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: LeakageReport) -> str:
    kpi_rows = [
        [k["currency"], _money(k["billed_revenue"]), _money(k["under_billing"]), _money(k["over_billing"]),
         _money(k["cost_leakage"]), _money(k["collection_leakage"]), k["leakage_pct_of_billed"],
         k["recoverable_pct"], _money(k["case_leakage"]), _money(k["recovered"]), k["recovered_pct"],
         _money(k["refunds_owed"]), _money(k["refunded"]), k["match_rate_pct"]]
        for k in report.kpis
    ]  # fmt: skip
    cases = [
        [line.case.case_id, line.case.status, line.case.title, _money(line.case.leakage_amount),
         line.case.currency or "", line.case.owner or "", _money(line.case.recovered_amount),
         f"{line.detail}; calls: {', '.join(line.evidence)}" if line.evidence else line.detail]
        for line in report.top_cases
    ]  # fmt: skip
    days = "n/a" if report.mean_days_to_recovery is None else f"{report.mean_days_to_recovery:.1f}"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Revenue leakage {report.period:%Y-%m}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}}th{{background:#f3f3f3}}</style>
</head><body>
<h1>Revenue leakage report {report.period:%Y-%m}</h1>
<p>Data as of {report.as_of}. Mean days to recovery: {days}.</p>
<h2>KPIs</h2>
{
        _table(
            [
                "currency",
                "billed",
                "under-billing",
                "over-billing",
                "negative margin",
                "collection overdue",
                "leakage % of billed",
                "recoverable %",
                "leakage in cases worked",
                "recovered",
                "recovered %",
                "refunds owed",
                "refunded",
                "match rate %",
            ],
            kpi_rows,
        )
    }
<h2>Leakage by area</h2>
{_bars(report)}
{
        _table(
            ["area", "type", "currency", "findings", "leakage"],
            [
                [r["leakage_area"], r["finding_type"], r["currency"], r["findings"], _money(r["leakage"])]
                for r in report.by_area
            ],
        )
    }
<h2>Control coverage</h2>
{
        _table(
            ["control", "name", "area", "checked", "findings", "covered"],
            [
                [
                    r["control_id"],
                    r["control_name"],
                    r["leakage_area"],
                    r["items_checked"],
                    r["findings"],
                    "yes" if r["is_covered"] else "NO",
                ]
                for r in report.coverage
            ],
        )
    }
<h2>Top cases by value</h2>
{_table(["case", "status", "title", "leakage", "currency", "owner", "recovered", "evidence"], cases)}
</body></html>
"""


RENDERERS = {"text": render_text, "csv": render_csv, "html": render_html}
