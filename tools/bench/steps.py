"""The benchmark's steps: each measures one stage of tollhouse on the simulated month (simulate, load,
mediate, rate, bill, assure, fraud, dashboards) and returns its own figures; run.py runs each in its own
process. The pandas baselines of the same work are in baselines.py."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

from orchestration.ingestion.layouts import CDR_SOURCES, SOURCES
from orchestration.settings import REPO_ROOT, billing_range_env, delivery_range_env

DAYS = 31  # October 2026: the demo month, with the European DST change in it
START = date(2026, 10, 1)
PANDAS_CHUNK = 1_000_000  # requests the pandas rating baseline holds at once
DECK_PREFIXES = 50_000  # rating's target is set against a deck of at least 50,000 prefixes, split bands on


def step_simulate(data: Path, calls: int) -> dict:
    from tools.simulator import SimulationConfig, simulate

    result = simulate(
        SimulationConfig(seed=11, start=START, months=1, accounts=max(30, calls // 5000),
                         calls_per_day=calls // DAYS, out=data, deck_prefixes=DECK_PREFIXES, split_bands=True)
    )  # fmt: skip
    return {"items": result.calls, "unit": "calls", "files": result.files, "records": result.records}


def step_ingest(data: Path, calls: int) -> dict:
    from orchestration.ingestion.load import ingest_days
    from orchestration.pipeline.runs import landed_days
    from orchestration.settings import Paths
    from orchestration.warehouse import connect

    paths = Paths(data)
    if paths.warehouse.exists():
        paths.warehouse.unlink()
    lines = rows = rejects = files = cdr_rows = 0
    with connect(paths.warehouse) as con:  # as one `tollhouse load` of the month: a range per source
        for source in SOURCES:
            for load in ingest_days(con, paths.landing, source, landed_days(paths)):
                files += len(load.files)
                lines, rows, rejects = lines + load.lines, rows + load.rows, rejects + load.rejects
                cdr_rows += load.rows if source in CDR_SOURCES else 0
    return {"items": lines, "unit": "lines", "files": files, "rows": rows, "rejects": rejects, "cdr_rows": cdr_rows}


def dbt_build(data: Path, *args: str, env: dict[str, str] | None = None) -> None:
    from orchestration.settings import run_dbt

    # its own target folder: a dbt command run meanwhile on the project cannot swap the manifest under it
    done = run_dbt(data, "build", "--quiet", *args, env=env)
    if done.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}")


def step_mediate(data: Path, calls: int) -> dict:
    """`dbt build` of every model and test on the ingested month but rating's and what reads rated calls
    (billing, assurance, fraud), from scratch:
    mediation is all but the ingestion control mart. Calls are the calls mediated plus the calls held in
    suspense."""
    from orchestration.warehouse import connect

    # rating (docs/rating.md) and what reads rated calls (billing, assurance, fraud) are measured on their own
    dbt_build(data, "--exclude", "tag:rating+", "tag:billing", "tag:assurance", "tag:fraud")
    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        mediated, suspended, records, unaccounted = con.execute(
            """select (select count(*) from marts.fct_calls), (select count(*) from marts.fct_suspense),
                      sum(records_in), sum(records_unaccounted) from marts.rpt_mediation_conservation"""
        ).fetchone()
    return {"items": mediated + suspended, "unit": "calls", "records": int(records), "suspended": suspended,
            "unaccounted": int(unaccounted)}  # fmt: skip


def step_mediate_day(data: Path, calls: int) -> dict:
    """The daily run on the mediated month: the busiest delivery day's partition re-mediated (the models
    tagged `daily` and their tests, with every call in suspense re-evaluated), as the sensor or the
    schedule does after a day's load. Calls are those of the day's records plus the suspense re-decided."""
    from orchestration.warehouse import connect

    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        day, day_calls = con.execute(
            """select delivery_date, count(*) from intermediate.int_calls_identified
               group by 1 order by 2 desc limit 1"""
        ).fetchone()
        (suspended,) = con.execute("select count(*) from marts.fct_suspense").fetchone()
    dbt_build(data, "--select", "tag:daily", "--exclude", "tag:rating+", env=delivery_range_env(day, day))
    return {"items": day_calls + suspended, "unit": "calls", "day": day.isoformat()}


def rating_counts(con) -> dict:
    (calls, vendor, priced, unrated, vendor_priced, prefixes) = con.execute(
        """select count(*) filter (where deck = 'customer'), count(*) filter (where deck = 'vendor'),
                  count(cost) filter (where deck = 'customer'),
                  count(*) filter (where deck = 'customer' and rating_error is not null),
                  count(cost) filter (where deck = 'vendor'),
                  (select max(n) from (select count(distinct prefix) as n from intermediate.int_tariff_rates_bounded
                                       group by deck, rate_plan_id))
           from intermediate.int_calls_rated"""
    ).fetchone()
    return {"items": calls, "unit": "calls", "priced": priced, "unrated": unrated, "vendor_requests": vendor,
            "vendor_priced": vendor_priced, "deck_prefixes": prefixes}  # fmt: skip


def step_rate(data: Path, calls: int) -> dict:
    """`dbt build` of the rating models and their tests on the mediated month: every call priced at its
    customer plan and, when outbound, at its vendor's deck. Items are the calls; the vendor requests are
    rated in the same run. Model times come from dbt's run_results.json."""
    from orchestration.warehouse import connect

    dbt_build(data, "--select", "tag:rating")
    model_s = run_times(data)["model_s"]
    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        return rating_counts(con) | {"model_s": model_s}


def step_rate_day(data: Path, calls: int) -> dict:
    """The daily run's rating on the rated month: the busiest delivery day's calls (and any call not
    priced yet) rated as its partition, the other days' prices kept, with the rating tests."""
    from orchestration.warehouse import connect

    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        day, day_calls = con.execute(
            "select delivery_date, count(*) from marts.fct_calls group by 1 order by 2 desc limit 1"
        ).fetchone()
    dbt_build(data, "--select", "tag:rating", env=delivery_range_env(day, day))
    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        (requests,) = con.execute("select count(*) from intermediate.int_rating_requests_selected").fetchone()
    return {"items": day_calls, "unit": "calls", "day": day.isoformat(), "requests": requests}


def billing_month(con) -> date:
    """The month the bench bills: that of the median answer time of the mediated calls (October 2026)."""
    (month,) = con.execute(
        "select cast(date_trunc('month', quantile_disc(answer_at, 0.5)) as date) from marts.fct_calls"
    ).fetchone()
    return month


def run_times(data: Path) -> dict:
    """From the last dbt build's run_results.json: the seconds of each model that took at least half a
    second, and the seconds of all models and of all tests (one dbt thread: they add up)."""
    results = json.loads((data / "dbt_target" / "run_results.json").read_text())["results"]
    return {
        "model_s": {
            r["unique_id"].rsplit(".", 1)[1]: round(r["execution_time"], 1)
            for r in results
            if r["unique_id"].startswith("model.") and r["execution_time"] >= 0.5
        },
        "models_total_s": round(sum(r["execution_time"] for r in results if r["unique_id"].startswith("model.")), 1),
        "tests_total_s": round(sum(r["execution_time"] for r in results if r["unique_id"].startswith("test.")), 1),
    }


def step_bill(data: Path, calls: int) -> dict:
    """`dbt build` of the billing models and their tests for the simulated month, as the month's billing
    partition (TOLLHOUSE_BILLING_FROM and _TO): mediated and rated calls in, drafted invoices out (documents
    excluded). Items are the calls billed (int_calls_billed of the month); model times from run_results.json."""
    from orchestration.warehouse import connect

    warehouse = data / "warehouse" / "tollhouse.duckdb"
    with connect(warehouse, read_only=True) as con:
        month = billing_month(con)
    dbt_build(data, "--select", "tag:billing", env=billing_range_env(month, month))
    with connect(warehouse, read_only=True) as con:
        billed, covered, partly, tiered = con.execute(
            """select count(*), count(*) filter (where covered_seconds > 0),
                      count(*) filter (where covered_seconds > 0 and covered_seconds < billed_seconds),
                      count(*) filter (where is_tiered)
               from intermediate.int_calls_billed where billing_period = $1""",
            [month],
        ).fetchone()
        invoices, lines, usage_lines = con.execute(
            """select count(distinct invoice_number), count(*), count(*) filter (where line_type = 'usage')
               from intermediate.int_invoice_lines_drafted where billing_period = $1""",
            [month],
        ).fetchone()
    return {"items": billed, "unit": "calls", "month": month.isoformat(), "invoices": invoices, "lines": lines,
            "usage_lines": usage_lines, "covered": covered, "partly_covered": partly,
            "tiered": tiered} | run_times(data)  # fmt: skip


def step_assure(data: Path, calls: int) -> dict:
    """`dbt build` of every revenue-assurance control and its tests (`--select tag:assurance`) after the bill
    step: the month's rated calls and subscription charges reconciled with the simulated billing system's
    export, payments, suspense, margins, volumes. Items are the calls the CDR-to-bill match compared."""
    from orchestration.warehouse import connect

    dbt_build(data, "--select", "tag:assurance")
    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        (compared,) = con.execute("select count(*) from intermediate.int_ra_usage_reconciled").fetchone()
        (lines,) = con.execute("select count(*) from staging.stg_billing_export__invoice_lines").fetchone()
        findings = dict(
            con.execute("select control_id, count(*) from marts.fct_leakage_findings group by 1 order by 1").fetchall()
        )
        outcomes = dict(
            con.execute("select outcome, count(*) from intermediate.int_ra_usage_reconciled group by 1").fetchall()
        )
    return {"items": compared, "unit": "calls", "billed_lines": lines, "findings": findings,
            "outcomes": outcomes} | run_times(data)  # fmt: skip


def step_fraud(data: Path, calls: int) -> dict:
    """Fraud detection over the month: `dbt build` of the features and rules (tag fraud, alerts excluded), the
    Isolation Forest trained and every feature row scored (models/fraud/model.py), then the alert models."""
    from models.fraud import training as fraud
    from orchestration.warehouse import connect

    timings = {}
    started = time.perf_counter()
    dbt_build(
        data,
        "--select",
        "tag:fraud",
        "fraud_high_risk_ranges",
        "--exclude",
        "int_fraud_alerts_triggered",
        "fct_fraud_alerts",
    )
    timings["features_s"] = round(time.perf_counter() - started, 1)
    warehouse, models = data / "warehouse" / "tollhouse.duckdb", data / "models" / "fraud"
    with connect(warehouse) as con:
        started = time.perf_counter()
        model = fraud.train(con, data / "cases" / "none.sqlite", models, seed=7)
        timings["train_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        _, rows = fraud.score(con, models, data / "cases" / "none.sqlite")
        timings["score_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    dbt_build(data, "--select", "int_fraud_alerts_triggered", "fct_fraud_alerts")
    timings["alerts_s"] = round(time.perf_counter() - started, 1)
    with connect(warehouse, read_only=True) as con:
        alerts = dict(
            con.execute(
                "select detector, count(*) filter (where within_budget) "
                "from intermediate.int_fraud_alerts_triggered group by 1"
            ).fetchall()
        )
    return {"items": rows, "unit": "calls", "model": model.version, "alerts": alerts} | timings


def step_dashboards(data: Path, calls: int) -> dict:
    """The dashboards on the month's snapshot: the served marts built and the snapshot published (timed
    apart), the findings and alerts filed into a case store, then every page rendered by Streamlit's AppTest
    as the assurance role (every page, numbers shown), once with an empty cache (the first look at a new
    snapshot) and once warm. The process is warmed first: imports are the server's, not a page's."""
    from dashboards.roles import PAGES  # every page the app has
    from orchestration.assurance import alert_queue, cases
    from orchestration.serving.publish import publish
    from orchestration.settings import Paths
    from orchestration.warehouse import connect

    os.environ.update(TOLLHOUSE_DATA_DIR=str(data), DAGSTER_HOME=str(data / "dagster"))
    paths = Paths(data)
    started = time.perf_counter()
    # the pages' own marts, and the alerts (their columns may be newer than an `--only` run's fraud step)
    dbt_build(data, "--select", "rpt_usage_daily", "rpt_stage_totals_daily", "rpt_leakage_evidence", "fct_fraud_alerts")
    timings = {"serving_marts_s": round(time.perf_counter() - started, 1)}
    with connect(paths.warehouse, read_only=True) as con:
        started = time.perf_counter()
        manifest = publish(con, paths)
        timings["publish_s"] = round(time.perf_counter() - started, 1)
        cases.sync_findings(paths.cases, cases.read_findings(con))
        alert_queue.sync_fraud_alerts(paths.cases, alert_queue.read_fraud_alerts(con))
    snapshot_mb = sum(f.stat().st_size for f in (paths.serving / "snapshots" / manifest["version"]).iterdir()) >> 20

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboards import users

    app = str(REPO_ROOT / "dashboards" / "app.py")
    users.add_user("bench", "assurance", "bench-password")  # the pages as an assurance analyst sees them

    def signed_in() -> AppTest:
        at = AppTest.from_file(app, default_timeout=300).run()
        next(t for t in at.text_input if t.label == "User name").input("bench")
        next(t for t in at.text_input if t.label == "Password").input("bench-password")
        return next(b for b in at.button if b.label == "Sign in").click().run()

    for page in PAGES:  # warm the process: every page's imports, the Dagster instance
        signed_in().switch_page(f"views/{page}.py").run()
    pages = {}
    for page in PAGES:
        at = signed_in()
        st.cache_data.clear()
        started = time.perf_counter()
        at.switch_page(f"views/{page}.py").run()
        cold = time.perf_counter() - started
        if at.exception or at.error:
            raise SystemExit(f"page {page} failed: {[e.value for e in (*at.exception, *at.error)]}")
        started = time.perf_counter()
        at.run()
        warm = time.perf_counter() - started
        # what was drawn, so a page that stopped early at a message cannot pass for a fast one
        pages[page] = {"cold_s": round(cold, 2), "warm_s": round(warm, 2), "tables": len(at.dataframe),
                       "metrics": len(at.metric), "messages": [i.value for i in at.info]}  # fmt: skip
    return {"items": sum(manifest["rows"].values()), "unit": "rows", "snapshot_mb": snapshot_mb, "pages": pages,
            "invoice_calls": manifest["rows"].get("fct_invoice_calls", 0)} | timings  # fmt: skip
