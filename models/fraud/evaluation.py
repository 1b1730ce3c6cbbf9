"""The fraud detectors against a simulation's ground truth (docs/fraud-evaluation.md): precision and recall at
the daily budget, PR-AUC, detection delay and money lost before the first alert; and the labels an analyst who
knew the truth would give the filed alerts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from models.fraud import model as model_lib
from models.fraud.training import DETECTORS
from orchestration.assurance import alert_queue
from orchestration.settings import DBT_PROJECT_DIR


def label_from_truth(con: duckdb.DuckDBPyConnection, store_path: Path, truth_dir: Path) -> tuple[int, int]:
    """For a simulated operator only: decide every open filed alert as an analyst who knew the ground truth
    would (confirmed when its account carried an incident's calls and it was raised between the incident's
    first call and an hour after its last; else dismissed). Returns (confirmed, dismissed)."""
    _truth_tables(con, truth_dir)
    true_ids = set()
    for alert in alert_queue.fraud_alerts(store_path, status="open"):
        hit = con.execute(
            """select count(*) from fraud_incident_accounts where account_id = $account
            and cast($raised as timestamp) between started_at and ended_at + interval 1 hour""",
            {"account": alert.account_id, "raised": pd.Timestamp(alert.raised_at).tz_localize(None)},
        ).fetchone()[0]
        decision = "confirmed" if hit else "dismissed"
        alert_queue.decide_alert(store_path, alert.alert_id, decision, "ground-truth", "labelled from the simulation")
        if hit:
            true_ids.add(alert.alert_id)
    decided = len(alert_queue.fraud_alerts(store_path)) if store_path.exists() else 0
    return len(true_ids), decided - len(true_ids)


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
    """Each detector's alerts (int_fraud_alerts_triggered) against the incidents of ground_truth/fraud_incidents.csv.

    An alert is true when its account carried some of an incident's calls and it was raised between the
    incident's first call and an hour after its last. Delay: from the incident's first call starting to the end of
    the call that triggered its first true alert (the last CDR the detector had to see). File latency:
    from that call's end to the end of the hour its switch file covers (hourly files; reported apart).
    Money lost: the exposure (vendor cost, EUR) of the incident's calls that ended before the alert.
    """
    _truth_tables(con, truth_dir)
    matched = con.execute(
        """
        select alerts.detector, alerts.alert_id, alerts.account_id, alerts.raised_at, alerts.raised_on,
            alerts.within_budget, alerts.trigger_call_id, coalesce(alerts.peak_model_score, 0) as model_score,
            alerts.exposure_at_alert_eur, incident_accounts.incident_id, incident_accounts.kind,
            incident_accounts.started_at
        from intermediate.int_fraud_alerts_triggered as alerts
        left join fraud_incident_accounts as incident_accounts
            on incident_accounts.account_id = alerts.account_id
            and alerts.raised_at between incident_accounts.started_at
                and incident_accounts.ended_at + interval 1 hour
        """
    ).df()
    losses = con.execute(
        """select truth.incident_id, calls.end_at, calls.exposure_eur
        from fraud_truth_calls as truth inner join intermediate.int_outbound_calls_costed as calls using (call_id)"""
    ).df()
    trigger_ends = con.execute(
        "select call_id as trigger_call_id, end_at from intermediate.int_outbound_calls_costed"
    ).df()
    truth = con.execute("select incident_id, kind, cast(start_at as timestamp) as started_at from fraud_truth").df()
    days = con.execute(
        "select count(distinct cast(end_at as date)) from intermediate.int_outbound_calls_costed"
    ).fetchone()[0]
    return [_judge(d, matched[matched.detector == d], truth, losses, trigger_ends, days) for d in DETECTORS]


def _truth_tables(con: duckdb.DuckDBPyConnection, truth_dir: Path) -> None:
    """Temp tables of the ground truth: the incidents, their mediated calls, and each incident's accounts (those
    mediation gave its calls: owners by trunk, DID or accountcode, which may differ from the simulator's
    victims when a DID moved; and the simulator's own, for calls mediation never rated)."""
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
    con.execute(
        """create or replace temp table fraud_incident_accounts as
        with accounts as (
            select truth.incident_id, calls.account_id
            from fraud_truth_calls as truth inner join marts.fct_calls as calls using (call_id)
            union
            select incident_id, unnest(string_split(account_ids, ';')) from fraud_truth
        )
        select distinct accounts.incident_id, truth.kind, accounts.account_id,
            cast(truth.start_at as timestamp) as started_at, cast(truth.end_at as timestamp) as ended_at
        from accounts inner join fraud_truth as truth using (incident_id)"""
    )


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


def _lift(results: list[DetectorResult]) -> list[str]:
    """What the model adds to the rules at the same daily budget: incidents only it alerts, and the change in
    incidents alerted, precision and median delay; then which detector alerted each incident, and when."""
    by = {r.detector: r for r in results}
    rules = by.get("rules")
    if rules is None:
        return []
    caught = {d: set(r.incidents_table.loc[r.incidents_table.alert_id.notna(), "incident_id"]) for d, r in by.items()}
    lines = [
        "",
        "## Lift over the rules (same daily budget)",
        "",
        "| detector | incidents alerted | that the rules miss | that it misses and the rules catch "
        "| precision | median delay (min) |",
        "|---|---|---|---|---|---|",
    ]
    for d, r in by.items():
        if d == "rules":
            continue
        extra, lost = sorted(caught[d] - caught["rules"]), sorted(caught["rules"] - caught[d])
        delay = (
            "-"
            if r.median_delay_min is None or rules.median_delay_min is None
            else (f"{r.median_delay_min:.1f} ({r.median_delay_min - rules.median_delay_min:+.1f})")
        )
        lines.append(
            f"| {d} | {r.detected} ({r.detected - rules.detected:+d}) | {len(extra)}: {', '.join(extra) or '-'} | "
            f"{len(lost)}: {', '.join(lost) or '-'} | {r.precision:.0%} ({(r.precision - rules.precision) * 100:+.0f} "
            f"points) | {delay} |"
        )
    lines += ["", "| incident | kind | " + " | ".join(f"{d} delay (min)" for d in by) + " |",
              "|---|---|" + "---|" * len(by)]  # fmt: skip
    tables = {d: r.incidents_table.set_index("incident_id") for d, r in by.items()}
    for incident in rules.incidents_table.sort_values("incident_id").itertuples():
        cells = []
        for d in by:
            delay = tables[d].delay_min.get(incident.incident_id)
            cells.append("-" if delay is None or pd.isna(delay) else f"{delay:.1f}")
        lines.append(f"| {incident.incident_id} | {incident.kind} | " + " | ".join(cells) + " |")
    return lines


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
        f"{model.card()['trained_to']} on the demo operator (training mix), threshold {model.threshold}"
        + (
            f" (gradient boosting over the Isolation Forest's score, trained on the training mix's alerts labelled "
            f"from its ground truth as an analyst would and on presumed-legitimate rows; forest threshold "
            f"{model.forest_threshold})"
            if getattr(model, "classifier", None) is not None
            else " (Isolation Forest)"
        )
        + "; never trained on this mix. At most "
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
    lines += _lift(results)
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
