"""What a run found, read back from the warehouse: the summary `make run` and `tollhouse summary` print."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.assurance.kpis import coverage_by_area, leakage_kpis
from orchestration.warehouse import sql_literal

# marts.rpt_rating_margin is a view over every rated call (1.5 s on the demo): read once into this temp table,
# from the published snapshot's copy when there is one
MARGIN = "summary_rating_margin"


def ingestion_by_source(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The control mart's daily totals summed per source (rows and rejects recounted from the tables)."""
    return con.execute(
        """
        select source, sum(files)::bigint, sum(files_redelivered)::bigint, sum(files_quarantined)::bigint,
               sum(lines)::bigint, sum(raw_rows)::bigint, sum(rejected_lines)::bigint,
               sum(files_exact_parsed)::bigint
        from marts.rpt_ingestion_daily group by source order by source
        """
    ).fetchall()


def rejects_by_reason(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select source, reason, count(*) from raw.rejects group by all order by source, reason"
    ).fetchall()


def quarantined_files(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Files that loaded nothing: unreadable (quarantined) or outside a delivery-day folder (refused)."""
    return con.execute(
        "select path, status, reason from raw.load_audit where status in ('quarantined', 'refused') order by path"
    ).fetchall()


def mediation_by_source(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Conservation per source: records in, and what each became (recounted per file by the dbt model)."""
    return con.execute(
        """
        select source, sum(records_in)::bigint, sum(calls_out)::bigint, sum(partials_merged)::bigint,
               sum(duplicates)::bigint, sum(rejected)::bigint, sum(suspended)::bigint,
               sum(records_unaccounted)::bigint
        from marts.rpt_mediation_daily group by source order by source
        """
    ).fetchall()


def mediation_reasons(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Records mediation rejected, merged away or holds in suspense, by reason."""
    return con.execute(
        """
        select stage, reason, count(*) from marts.fct_mediation_rejects where stage <> 'ingestion' group by all
        union all
        select 'suspense', reason, sum(record_count)::bigint from marts.fct_suspense group by all
        order by 1, 2
        """
    ).fetchall()


def rating_by_plan(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Customer rating per plan: calls priced and their revenue in the plan's currency, calls unrated."""
    return con.execute(
        """
        select rate_plan_id, currency, count(cost)::bigint, sum(cost)::varchar,
               count(*) filter (where rating_error is not null)::bigint,
               coalesce(string_agg(distinct rating_error, ', ' order by rating_error), '')
        from intermediate.int_calls_rated where deck = 'customer'
        group by all order by rate_plan_id nulls last
        """
    ).fetchall()


def read_margin(con: duckdb.DuckDBPyConnection, serving: Path | None = None) -> tuple[str, str]:
    """The rating margin per rate in a temp table (the connection may be read-only): the published snapshot's
    copy when `serving` has one, else computed from the view. (its name, where it was read)"""
    current = serving / "CURRENT" if serving else None
    if current and current.is_file():
        version = current.read_text().strip()
        published = serving / "snapshots" / version / "rpt_rating_margin.parquet"
        if published.is_file():
            con.execute(f"create or replace temp table {MARGIN} as from read_parquet({sql_literal(published)})")
            return MARGIN, f"published snapshot {version}"
    con.execute(f"create or replace temp table {MARGIN} as select * from marts.rpt_rating_margin")
    return MARGIN, "warehouse"


def margin_by_currency(con: duckdb.DuckDBPyConnection, margin: str = "marts.rpt_rating_margin") -> list[tuple]:
    """Outbound revenue, vendor cost and margin per customer currency; calls whose cost is unpriced apart."""
    return con.execute(
        f"""
        select currency, sum(calls)::bigint, sum(revenue)::varchar, sum(vendor_cost)::varchar,
               sum(margin)::varchar, round(100 * sum(margin) / sum(revenue), 2)::varchar,
               sum(calls_without_margin)::bigint
        from {margin} group by all order by all
        """
    ).fetchall()


def losing_rates(con: duckdb.DuckDBPyConnection, margin: str = "marts.rpt_rating_margin", limit: int = 10) -> list:
    """The customer and vendor rates whose outbound calls lose money, worst first."""
    return con.execute(
        f"""select rate_plan_id, matched_prefix, rate_valid_from::varchar, vendor_id, vendor_matched_prefix,
                   calls, revenue::varchar, vendor_cost::varchar, margin::varchar, currency
            from {margin} where is_negative order by margin limit {int(limit)}"""
    ).fetchall()


def tariff_errors(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select deck, file_name, file_line, rule, message from intermediate.int_tariff_errors_found order by all"
    ).fetchall()


def invoices_by_period(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Invoices per billing period, status and currency, with their totals by line type."""
    return con.execute(
        """
        select strftime(i.billing_period, '%Y-%m'), i.status, i.currency, count(distinct i.invoice_number)::bigint,
            coalesce(sum(l.amount) filter (where l.line_type in ('recurring', 'bundle', 'one_time')), 0),
            coalesce(sum(l.amount) filter (where l.line_type in ('usage', 'tier')), 0),
            coalesce(sum(l.amount) filter (where l.line_type = 'adjustment'), 0),
            coalesce(sum(l.amount) filter (where l.line_type = 'discount'), 0),
            coalesce(sum(l.amount) filter (where l.line_type = 'tax'), 0),
            sum(l.amount)
        from marts.fct_invoices i join marts.fct_invoice_lines l using (invoice_number)
        group by all order by all
        """
    ).fetchall()


def issued_invoices(con: duckdb.DuckDBPyConnection, documents: Path | None) -> list[tuple]:
    """Every closed (issued) invoice, with its PDF when it was rendered under `documents`."""
    rows = con.execute(
        """
        select invoice_number, account_name, strftime(billing_period, '%Y-%m'), currency, subtotal, tax_total, total,
            call_count
        from marts.fct_invoices where status = 'closed' order by billing_period, invoice_number
        """
    ).fetchall()
    out = []
    for row in rows:
        pdf = documents / row[2] / f"{row[0]}.pdf" if documents else None
        out.append((*row, str(pdf.relative_to(documents.parent)) if pdf and pdf.exists() else "not rendered"))
    return out


def period_log(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select strftime(billing_period, '%Y-%m'), action, strftime(acted_at, '%Y-%m-%d %H:%M'), acted_by, "
        "coalesce(reason, ''), invoices from billing.period_log order by acted_at"
    ).fetchall()


def late_call_adjustments(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Calls that arrived after their period closed, by the period that bills them (none yet: pending)."""
    return con.execute(
        """
        select strftime(original_period, '%Y-%m'), coalesce(strftime(billing_period, '%Y-%m'), 'pending'),
            currency, count(*)::bigint, sum(charge)
        from intermediate.int_closed_period_calls_adjusted group by all order by all
        """
    ).fetchall()


def receivables(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        """
        select currency, strftime(any_value(as_of_date), '%Y-%m-%d'), sum(invoices)::bigint, sum(invoiced), sum(paid),
            sum(open_balance), sum(current_amount), sum(past_due_1_30 + past_due_31_60 + past_due_61_90
            + past_due_over_90), sum(unapplied_cash)
        from marts.rpt_receivables_ageing group by currency order by currency
        """
    ).fetchall()


def billing_sections(con: duckdb.DuckDBPyConnection, documents: Path | None = None) -> list[str]:
    try:
        invoices = invoices_by_period(con)
    except duckdb.CatalogException:  # nothing billed yet
        return []
    parts = [
        "",
        "Invoices (closed: frozen at the period's close; draft: the open period so far)",
        format_table(
            ("period", "status", "cur", "invoices", "recurring", "usage", "late calls", "discounts", "tax", "total"),
            invoices,
        ),
    ]
    issued = issued_invoices(con, documents)
    if issued:
        parts += [
            "",
            "Issued invoices (closed months) and their documents",
            format_table(("invoice", "customer", "period", "cur", "subtotal", "tax", "total", "calls", "PDF"), issued),
        ]
    log = period_log(con)
    if log:
        parts += ["", "Billing period log", format_table(("period", "act", "at", "by", "reason", "invoices"), log)]
    late = late_call_adjustments(con)
    if late:
        parts += [
            "",
            "Calls that arrived after their period closed, billed as adjustments in the next open period",
            format_table(("call period", "billed in", "cur", "calls", "charge"), late),
        ]
    parts += [
        "",
        "Receivables (issued invoices; payments applied to the named invoice, else oldest first)",
        format_table(
            ("cur", "as of", "invoices", "invoiced", "paid", "open", "not yet due", "past due", "unapplied cash"),
            receivables(con),
        ),
    ]
    return parts


def kpi_rows(con: duckdb.DuckDBPyConnection, cases: Path | None) -> list[tuple]:
    """Per period under assurance, the KPIs in the reporting currency (orchestration/assurance/kpis.py)."""
    periods = [
        p for (p,) in con.execute("select distinct billing_period from marts.rpt_leakage_kpis order by 1").fetchall()
    ]
    out = []
    for period in periods:
        t = leakage_kpis(con, cases, period).total
        out.append(
            (f"{period:%Y-%m}", t["currency"], str(t["billed_revenue"]), str(t["under_billing"]),
             str(t["over_billing"]), str(t["cost_leakage"]), str(t["collection_leakage"]), str(t["recovered"]),
             *("" if t[k] is None else str(t[k]) for k in ("leakage_pct_of_billed", "recoverable_pct",
                                                            "recovered_pct")))
        )  # fmt: skip
    return out


def _assurance_ran(con: duckdb.DuckDBPyConnection) -> bool:
    (ran,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'rpt_leakage_kpis'"
    ).fetchone()
    return bool(ran)


def assurance_sections(con: duckdb.DuckDBPyConnection, cases: Path | None = None) -> list[str]:
    """Revenue assurance: expected, billed and collected per period and currency, the KPIs in the reporting
    currency with what the cases recovered, coverage by area, and the leakage found by area and type (empty
    before the controls ran)."""
    if not _assurance_ran(con):
        return []
    kpis = con.execute(
        """select strftime(billing_period, '%Y-%m'), currency, round(expected_revenue, 2)::varchar,
                  round(billed_revenue, 2)::varchar, invoiced_total::varchar, collected::varchar,
                  round(under_billing, 2)::varchar, round(over_billing, 2)::varchar,
                  round(cost_leakage, 2)::varchar, coalesce(leakage_pct_of_billed::varchar, ''),
                  coalesce(match_rate_pct::varchar, '')
           from marts.rpt_leakage_kpis order by 1, 2"""
    ).fetchall()
    by_type = con.execute(
        """select strftime(billing_period, '%Y-%m'), control_id, leakage_area, finding_type,
                  coalesce(currency, ''), count(*), round(sum(leakage_amount), 2)::varchar
           from marts.fct_leakage_findings group by all order by 1, 2, 4, 5"""
    ).fetchall()
    return [
        "",
        "Revenue assurance: expected (rated + order inventory), billed (billing system of record, list charges), "
        "collected",
        format_table(
            (
                "period",
                "cur",
                "expected",
                "billed",
                "invoiced",
                "collected",
                "under-billed",
                "over-billed",
                "neg. margin",
                "leak % billed",
                "match %",
            ),
            kpis,
        ),
        "",
        "Revenue-assurance KPIs in the reporting currency (recovered: cases about under-billing or collection)",
        format_table(
            (
                "period",
                "cur",
                "billed",
                "under-billed",
                "over-billed",
                "neg. margin",
                "collection",
                "recovered",
                "leak % billed",
                "recoverable %",
                "recovered %",
            ),
            kpi_rows(con, cases),
        ),
        "",
        "Control coverage by leakage area (a control covers when it checked something)",
        format_table(
            ("area", "controls", "covered", "checked", "findings", "covered %"),
            [
                (
                    r["leakage_area"],
                    r["controls"],
                    r["covered"],
                    r["items_checked"],
                    r["findings"],
                    str(r["covered_pct"]),
                )
                for r in coverage_by_area(con)
            ],
        ),
        "",
        "Leakage findings by control and type (tollhouse report leakage --period YYYY-MM for the cases)",
        format_table(("period", "control", "area", "type", "cur", "findings", "leakage"), by_type),
    ]


def fraud_sections(con: duckdb.DuckDBPyConnection, ground_truth: Path | None = None) -> list[str]:
    """The fraud alert queue (empty before fraud detection ran) and, with a ground truth, the scorecard of
    the three detectors against the simulated incidents (models/fraud/evaluation.py evaluate)."""
    (ran,) = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'fct_fraud_alerts'"
    ).fetchone()
    if not ran:
        return []
    alerts = con.execute(
        """select alert_id, account_id, strftime(raised_at, '%Y-%m-%d %H:%M'), array_to_string(rules_hit, ' '),
                  coalesce(round(model_score, 3)::varchar, ''), exposure_at_alert_eur::varchar,
                  exposure_eur::varchar, status
           from marts.fct_fraud_alerts order by raised_at"""
    ).fetchall()
    parts = [
        "",
        "Fraud alert queue (combined detector, at most the daily budget a day; tollhouse fraud alerts to work them)",
        format_table(
            ("alert", "account", "raised (UTC)", "rules", "model", "EUR at alert", "EUR so far", "status"), alerts
        ),
    ]
    if ground_truth and (ground_truth / "fraud_incidents.csv").exists():
        from models.fraud.evaluation import evaluate

        rows = [
            (r.detector, r.alerts, r.true_alerts, f"{r.precision:.0%}", f"{r.detected} of {r.incidents}",
             f"{r.median_delay_min:.1f}" if r.median_delay_min is not None else "", r.max_alerts_per_day)
            for r in evaluate(con, ground_truth)
        ]  # fmt: skip
        parts += [
            "",
            "Simulator's fraud incidents against the detectors (this mix; the held-out one: tollhouse fraud evaluate)",
            format_table(
                ("detector", "alerts", "true", "precision", "incidents alerted", "median delay min", "most a day"), rows
            ),
        ]
    return parts


def format_table(headers: tuple[str, ...], rows: list[tuple]) -> str:
    cells = [tuple(f"{v:,}" if isinstance(v, int) else str(v) for v in row) for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = [
        "  ".join(c.rjust(w) if c[:1].isdigit() else c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells
    ]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def render(
    con: duckdb.DuckDBPyConnection,
    ground_truth: Path | None = None,
    documents: Path | None = None,
    cases: Path | None = None,
    serving: Path | None = None,
) -> str:
    """The summary; `documents` is the invoice documents folder (to name each issued invoice's PDF), `cases`
    the case store (what analysts recovered), `serving` the published snapshots (the margin is read there)."""
    parts = [
        "Ingestion (raw layer)",
        format_table(
            ("source", "files", "re-delivered", "quarantined", "lines", "raw rows", "rejects", "exact-parsed"),
            ingestion_by_source(con),
        ),
    ]
    rejects = rejects_by_reason(con)
    if rejects:
        parts += ["", "Rejected lines by reason", format_table(("source", "reason", "lines"), rejects)]
    quarantined = quarantined_files(con)
    if quarantined:
        parts += ["", "Quarantined or refused files", format_table(("file", "status", "reason"), quarantined)]
    parts += [
        "",
        "Mediation (records in = calls + partials merged + duplicates + rejected + suspended)",
        format_table(
            ("source", "records", "calls", "partials merged", "duplicates", "rejected", "suspended", "unaccounted"),
            mediation_by_source(con),
        ),
    ]
    reasons = mediation_reasons(con)
    if reasons:
        parts += [
            "",
            "Mediation outcomes other than a call, by reason",
            format_table(("stage", "reason", "records"), reasons),
        ]
    parts += [
        "",
        "Rating (customer plans; an unrated call has a reason, never a price of zero)",
        format_table(("plan", "currency", "priced", "revenue", "unrated", "why"), rating_by_plan(con)),
    ]
    margin, source = read_margin(con, serving)
    parts += [
        "",
        f"Margin of answered outbound calls (vendor cost at the vendor's deck, in the call's currency; {source})",
        format_table(
            ("currency", "calls", "revenue", "vendor cost", "margin", "margin %", "no margin"),
            margin_by_currency(con, margin),
        ),
    ]
    losing = losing_rates(con, margin)
    if losing:
        parts += [
            "",
            "Rates that lose money (customer rate and vendor rate of answered outbound calls), worst first",
            format_table(
                ("plan", "prefix", "rate from", "vendor", "vendor prefix", "calls", "revenue", "cost", "margin", "cur"),
                losing,
            ),
        ]
    errors = tariff_errors(con)
    if errors:
        parts += [
            "",
            "Tariff errors (plans with one do not rate)",
            format_table(("deck", "file", "line", "rule", "message"), errors),
        ]
    parts += billing_sections(con, documents)
    parts += assurance_sections(con, cases)
    parts += fraud_sections(con, ground_truth)
    if ground_truth and (ground_truth / "injections.csv").exists():
        # the scorecards against a simulation's ground truth: most of the time a summary takes (30 s of 34 on
        # the demo), so only when asked for (`tollhouse summary --truth`, the demo's own summary)
        from tools.simulator.assurance_score import assurance_settings
        from tools.simulator.scoring import (
            call_accuracy,
            family_scorecard,
            ingestion_scorecard,
            leakage_scorecard,
            mediation_scorecard,
            rating_scorecard,
        )

        headers = ("fault", "expected effect", "injected", "found")
        accuracy = call_accuracy(con, ground_truth)
        parts += [
            "",
            "Simulator's injected faults that ingestion owns, and how many it found",
            format_table(headers, ingestion_scorecard(con, ground_truth)),
            "",
            "Simulator's injected faults that mediation owns, and how many it found",
            format_table(headers, mediation_scorecard(con, ground_truth)),
            "",
            "Simulator's injected faults that rating owns, and how many it found",
            format_table(headers, rating_scorecard(con, ground_truth)),
            "",
            "True calls against fct_calls (wrong_* count mediated calls that differ from the truth)",
            format_table(("measure", "calls"), list(accuracy.items())),
        ]
        if (ground_truth / "leakage.csv").exists() and _assurance_ran(con):
            rows = leakage_scorecard(con, ground_truth, *assurance_settings())
            parts += [
                "",
                "Simulator's injected leakage that the revenue-assurance controls own, and how many they found",
                format_table(
                    (
                        "control",
                        "injected kind",
                        "finding type",
                        "injected",
                        "found",
                        "injected value",
                        "found value",
                        "findings",
                        "unmatched",
                    ),
                    [tuple("" if v is None else v for v in r.values()) for r in rows],
                ),
            ]
        if (ground_truth / "leaks.csv").exists() and _assurance_ran(con):
            families = family_scorecard(con, ground_truth)
            if families:
                parts += [
                    "",
                    "Simulator's leakage families (ground_truth/leaks.csv) and the leaks the controls found "
                    "(tollhouse report score)",
                    format_table(
                        ("family", "mix", "area", "leaks", "found", "injected value", "found value", "findings"),
                        [
                            (
                                r["family"],
                                r["mix"],
                                r["area"],
                                r["leaks"],
                                r["found"],
                                str(r["injected_value"]),
                                str(r["found_value"]),
                                r["findings"],
                            )
                            for r in families
                        ],
                    ),
                ]
    return "\n".join(parts)
