"""Fraud detection around the model: train it on the warehouse's features, score them, and evaluate the
detectors against a simulation's ground truth (docs/fraud.md).

The features, rules and alerts are dbt models (models/*/fraud); the model is models/fraud.py. Scores go to
`fraud.model_scores`, with the analysts' decisions copied from the case store to `fraud.alert_decisions`,
for the alert models to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from models import fraud as model_lib
from orchestration import cases
from orchestration.settings import DBT_PROJECT_DIR

DETECTORS = ("rules", "model", "combined")
_FEATURE_COLUMNS = (
    "call_id, account_id, end_at, calls_1h, minutes_1h, exposure_1h_eur, exposure_ratio, concurrency_ratio, "
    "calls_ratio, off_hours_calls_ratio, callback_accounts_6h, new_account_exposure_24h, high_risk_calls_1h, "
    "short_calls_1h, new_destinations_1h, distinct_numbers_1h"
)


def feature_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(f"select {_FEATURE_COLUMNS} from marts.fct_fraud_features order by call_id").df()


def _labels(rows: pd.DataFrame, store_path: Path) -> tuple[pd.Series, pd.Series]:
    """Rows inside alerts analysts confirmed, and inside those they dismissed (the account's calls from an
    hour before the alert to its last trigger): the labels the model card is scored on."""
    confirmed = pd.Series(False, index=rows.index)
    dismissed = pd.Series(False, index=rows.index)
    if not store_path.exists():
        return confirmed, dismissed
    for alert in cases.fraud_alerts(store_path):
        if alert.status == "open":
            continue
        start = pd.Timestamp(alert.raised_at).tz_localize(None) - pd.Timedelta(hours=1)
        end = pd.Timestamp(alert.last_trigger_at).tz_localize(None)
        inside = (rows["account_id"] == alert.account_id) & rows["end_at"].between(start, end)
        (confirmed if alert.status == "confirmed" else dismissed)[inside] = True
    return confirmed, dismissed


def train(con: duckdb.DuckDBPyConnection, store_path: Path, models_dir: Path, seed: int) -> model_lib.FraudModel:
    rows = feature_rows(con)
    confirmed, dismissed = _labels(rows, store_path)
    model = model_lib.train(rows, seed=seed, confirmed=confirmed, dismissed=dismissed)
    model_lib.save(model, models_dir)
    return model


def score(con: duckdb.DuckDBPyConnection, models_dir: Path, store_path: Path) -> tuple[model_lib.FraudModel, int]:
    """Score every feature row with the current model into fraud.model_scores, and copy the analysts'
    decisions to fraud.alert_decisions. Raises ModelFileError for a model that cannot be used."""
    model = model_lib.load(model_lib.current(models_dir))
    rows = feature_rows(con)
    scores = pd.DataFrame(
        {
            "call_id": rows["call_id"],
            "model_score": model_lib.score(model, rows),
            "model_threshold": model.threshold,
            "model_version": model.version,
        }
    )
    decided = [a for a in (cases.fraud_alerts(store_path) if store_path.exists() else []) if a.status != "open"]
    decisions = pd.DataFrame(
        {
            "alert_id": pd.Series([a.alert_id for a in decided], dtype="string"),
            "status": pd.Series([a.status for a in decided], dtype="string"),
            "decided_by": pd.Series([a.decided_by for a in decided], dtype="string"),
            "decided_at": pd.Series([a.decided_at for a in decided], dtype="datetime64[us, UTC]"),
        }
    )
    con.execute("create schema if not exists fraud")
    con.register("scores_frame", scores)
    con.register("decisions_frame", decisions)
    con.execute("begin")
    con.execute("create or replace table fraud.model_scores as select * from scores_frame")
    con.execute("create or replace table fraud.alert_decisions as select * from decisions_frame")
    con.execute("commit")
    return model, len(scores)


# --- evaluation against a simulation's ground truth ----------------------------------------------------


@dataclass(frozen=True)
class DetectorResult:
    detector: str
    days: int
    alerts: int  # within the daily budget
    true_alerts: int
    incidents: int
    detected: int
    precision: float
    recall: float
    pr_auc: float
    max_alerts_per_day: int
    median_delay_min: float | None
    median_file_latency_min: float | None
    by_kind: pd.DataFrame  # kind, incidents, detected, median delay, money lost before the first alert
    incidents_table: pd.DataFrame


def evaluate(con: duckdb.DuckDBPyConnection, truth_dir: Path) -> list[DetectorResult]:
    """Each detector's alerts (int_fraud_triggers) against the incidents of ground_truth/fraud_incidents.csv.

    An alert is true when its account carried some of an incident's calls and it was raised between the
    incident's first call and an hour after its last. Delay: from the incident's first call starting to the end of
    the call that triggered its first true alert (the last CDR the detector had to see). File latency:
    from that call's end to the end of the hour its switch file covers (hourly files; reported apart).
    Money lost: the exposure (vendor cost, EUR) of the incident's calls that ended before the alert.
    """
    con.execute(
        "create or replace temp table fraud_truth as select * from read_csv($incidents)",
        {"incidents": str(truth_dir / "fraud_incidents.csv")},
    )
    con.execute(
        """create or replace temp table fraud_truth_calls as
        select truth.fraud_incident_id as incident_id, calls.call_id
        from read_parquet($calls) as truth
        inner join marts.fct_calls as calls on calls.source = truth.source and calls.record_key = truth.record_key
        where truth.fraud_incident_id is not null""",
        {"calls": str(truth_dir / "calls.parquet")},
    )
    matched = con.execute(
        """
        with incident_accounts as (  -- the accounts mediation gave the incident's calls (its owners by trunk,
            -- DID or accountcode), which may differ from the simulator's victims when a DID moved
            select distinct truth.incident_id, truth.kind, calls.account_id,
                cast(truth.start_at as timestamp) as started_at, cast(truth.end_at as timestamp) as ended_at
            from fraud_truth as truth
            inner join fraud_truth_calls using (incident_id)
            inner join marts.fct_calls as calls using (call_id)
        )
        select alerts.detector, alerts.alert_id, alerts.account_id, alerts.raised_at, alerts.raised_on,
            alerts.within_budget, alerts.trigger_call_id, coalesce(alerts.peak_model_score, 0) as model_score,
            alerts.exposure_at_alert_eur, incident_accounts.incident_id, incident_accounts.kind,
            incident_accounts.started_at
        from intermediate.int_fraud_triggers as alerts
        left join incident_accounts
            on incident_accounts.account_id = alerts.account_id
            and alerts.raised_at between incident_accounts.started_at
                and incident_accounts.ended_at + interval 1 hour
        """
    ).df()
    losses = con.execute(
        """select truth.incident_id, calls.end_at, calls.exposure_eur
        from fraud_truth_calls as truth inner join intermediate.int_fraud_calls as calls using (call_id)"""
    ).df()
    trigger_ends = con.execute("select call_id as trigger_call_id, end_at from intermediate.int_fraud_calls").df()
    truth = con.execute("select incident_id, kind, cast(start_at as timestamp) as started_at from fraud_truth").df()
    days = con.execute("select count(distinct cast(end_at as date)) from intermediate.int_fraud_calls").fetchone()[0]
    return [_judge(d, matched[matched.detector == d], truth, losses, trigger_ends, days) for d in DETECTORS]


def _judge(
    detector: str, alerts: pd.DataFrame, truth: pd.DataFrame, losses: pd.DataFrame, ends: pd.DataFrame, days: int
) -> DetectorResult:
    from sklearn.metrics import average_precision_score

    alerts = alerts.drop_duplicates("alert_id", keep="first")  # an alert matching two incidents counts once
    raised = alerts[alerts.within_budget]
    is_true = raised.incident_id.notna()
    # PR-AUC over every candidate alert, ranked as the budget ranks them (exposure at the alert)
    labels = alerts.incident_id.notna()
    pr_auc = float(average_precision_score(labels, alerts.exposure_at_alert_eur)) if labels.any() else 0.0

    hits = raised[is_true].merge(ends, on="trigger_call_id")
    first = hits.sort_values("end_at").groupby("incident_id", as_index=False).first()
    table = truth.merge(first[["incident_id", "end_at", "alert_id"]], on="incident_id", how="left")
    table["delay_min"] = (table.end_at - table.started_at).dt.total_seconds() / 60
    hour_end = table.end_at.dt.floor("h") + pd.Timedelta(hours=1)
    table["file_latency_min"] = (hour_end - table.end_at).dt.total_seconds() / 60
    lost = losses.merge(table[["incident_id", "end_at"]].rename(columns={"end_at": "alert_at"}), on="incident_id")
    lost = lost[lost.alert_at.isna() | (lost.end_at < lost.alert_at)]
    table = table.merge(
        lost.groupby("incident_id").exposure_eur.sum().astype(float).rename("lost_eur"), on="incident_id", how="left"
    ).fillna({"lost_eur": 0.0})
    total = losses.groupby("incident_id").exposure_eur.sum().astype(float).rename("exposure_eur")
    table = table.merge(total, on="incident_id", how="left")
    by_kind = table.groupby("kind").agg(
        incidents=("incident_id", "count"),
        detected=("alert_id", "count"),
        median_delay_min=("delay_min", "median"),
        lost_before_alert_eur=("lost_eur", "sum"),
        incident_exposure_eur=("exposure_eur", "sum"),
    )
    per_day = raised.groupby("raised_on").size()
    return DetectorResult(
        detector=detector,
        days=days,
        alerts=len(raised),
        true_alerts=int(is_true.sum()),
        incidents=len(truth),
        detected=int(table.alert_id.notna().sum()),
        precision=float(is_true.mean()) if len(raised) else 0.0,
        recall=float(table.alert_id.notna().mean()) if len(truth) else 0.0,
        pr_auc=pr_auc,
        max_alerts_per_day=int(per_day.max()) if len(per_day) else 0,
        median_delay_min=_median(table.delay_min),
        median_file_latency_min=_median(table.file_latency_min),
        by_kind=by_kind.reset_index(),
        incidents_table=table,
    )


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(np.median(values)) if len(values) else None


def render_evaluation(results: list[DetectorResult], model: model_lib.FraudModel, config) -> str:
    """The evaluation as the Markdown table docs/fraud-evaluation.md holds."""
    budget = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["fraud_daily_alert_budget"]
    lines = [
        "# Fraud detection on the held-out mix",
        "",
        f"Written by `tollhouse fraud evaluate`: seed {config.seed}, {config.accounts} accounts, "
        f"{config.calls_per_day:,} calls a day, fraud mix `{config.fraud}` (simulator/fraud.py), month from "
        f"{config.start}. Model `{model.version}` trained {model.card()['trained_from']}.."
        f"{model.card()['trained_to']} on the demo operator (training mix), threshold {model.threshold}; never "
        "trained on this mix. At most "
        + str(budget)
        + " alerts a day reach the queue (a budget: only above threshold).",
        "",
        "| detector | alerts | true | precision | incidents alerted | recall | PR-AUC | most alerts in a day "
        "| median delay (min) | median file latency (min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        delay = "-" if r.median_delay_min is None else f"{r.median_delay_min:.1f}"
        latency = "-" if r.median_file_latency_min is None else f"{r.median_file_latency_min:.1f}"
        lines.append(
            f"| {r.detector} | {r.alerts} | {r.true_alerts} | {r.precision:.0%} | {r.detected} of {r.incidents} | "
            f"{r.recall:.0%} | {r.pr_auc:.3f} | {r.max_alerts_per_day} | {delay} | {latency} |"
        )
    for r in results:
        lines += [
            "",
            f"## {r.detector}: per scenario kind",
            "",
            "| kind | incidents | alerted | median delay (min) | lost before the first alert (EUR) "
            "| incidents' exposure (EUR) |",
            "|---|---|---|---|---|---|",
        ]
        for k in r.by_kind.itertuples():
            delay = "-" if pd.isna(k.median_delay_min) else f"{k.median_delay_min:.1f}"
            lines.append(
                f"| {k.kind} | {k.incidents} | {k.detected} | {delay} | {k.lost_before_alert_eur:,.2f} | "
                f"{k.incident_exposure_eur:,.2f} |"
            )
    lines += [
        "",
        "Delay: from an incident's first call starting to the end of the call whose CDR triggered its first true "
        "alert (traffic time). File latency: from that call's end to the end of its hourly switch file, added "
        "in production on top of the delay. Money lost: the vendor cost (EUR) of the incident's calls that "
        "ended before the alert. An alert is true when its account carried some of an incident's calls and it "
        "was raised between the incident's first call and an hour after its last. PR-AUC ranks every candidate "
        "alert, budget or not, by its exposure at the alert.",
        "",
    ]
    return "\n".join(lines)
