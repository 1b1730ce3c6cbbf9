"""Fraud detection around the model: train it on the warehouse's features, score them, and evaluate the
detectors against a simulation's ground truth (docs/fraud.md).

The features, rules and alerts are dbt models (models/*/fraud); the model is models/fraud/model.py. Scores go to
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

from models.fraud import model as model_lib
from orchestration.assurance import cases
from orchestration.settings import DBT_PROJECT_DIR

DETECTORS = ("rules", "model", "combined")
_FEATURE_COLUMNS = (
    "call_id, account_id, end_at, calls_1h, minutes_1h, exposure_1h_eur, exposure_ratio, concurrency_ratio, "
    "calls_ratio, off_hours_calls_ratio, callback_accounts_6h, new_account_exposure_24h, high_risk_calls_1h, "
    "short_calls_1h, new_destinations_1h, distinct_numbers_1h, wangiri_callbacks_6h, trunk_capacity_ratio, "
    "uniform_callees_1h, range_spend_ratio"
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


PRESUMED_LEGITIMATE_ROWS = 50_000  # at most this many rows of accounts no alert ever touched


def classifier_labels(
    rows: pd.DataFrame, confirmed: pd.Series, dismissed: pd.Series, alerted_accounts: set[str]
) -> pd.Series:
    """1 inside confirmed alerts, 0 inside dismissed ones and on a fixed sample of the rows of accounts no alert
    touched in the window (presumed legitimate, as unreported traffic is after the dispute window), NaN for
    the rest: the supervised stage trains on labelled rows only. Nothing is labelled without a decision."""
    labels = pd.Series(np.nan, index=rows.index)
    if not (confirmed.any() or dismissed.any()):
        return labels
    quiet = ~rows["account_id"].isin(alerted_accounts)
    keys = pd.util.hash_pandas_object(rows["call_id"], index=False)
    chosen = keys[quiet.to_numpy()].sort_values(kind="stable").index[:PRESUMED_LEGITIMATE_ROWS]
    labels[chosen] = 0.0
    labels[dismissed.to_numpy()] = 0.0
    labels[confirmed.to_numpy()] = 1.0
    return labels


def train(con: duckdb.DuckDBPyConnection, store_path: Path, models_dir: Path, seed: int) -> model_lib.FraudModel:
    rows = feature_rows(con)
    confirmed, dismissed = _labels(rows, store_path)
    model = model_lib.train(rows, seed=seed, confirmed=confirmed, dismissed=dismissed)
    alerted = {a.account_id for a in cases.fraud_alerts(store_path)} if store_path.exists() else set()
    labels = classifier_labels(rows, confirmed, dismissed, alerted)
    if labels.notna().any():
        model = model_lib.add_classifier(model, rows, labels, seed=seed)
    model_lib.save(model, models_dir)
    return model


def label_from_truth(con: duckdb.DuckDBPyConnection, store_path: Path, truth_dir: Path) -> tuple[int, int]:
    """For a simulated operator only: decide every open filed alert as an analyst who knew the ground truth
    would (confirmed when its account carried an incident's calls and it was raised between the incident's
    first call and an hour after its last; else dismissed). Returns (confirmed, dismissed)."""
    _truth_tables(con, truth_dir)
    true_ids = set()
    for alert in cases.fraud_alerts(store_path, status="open"):
        hit = con.execute(
            """select count(*) from fraud_incident_accounts where account_id = $account
            and cast($raised as timestamp) between started_at and ended_at + interval 1 hour""",
            {"account": alert.account_id, "raised": pd.Timestamp(alert.raised_at).tz_localize(None)},
        ).fetchone()[0]
        decision = "confirmed" if hit else "dismissed"
        cases.decide_alert(store_path, alert.alert_id, decision, "ground-truth", "labelled from the simulation")
        if hit:
            true_ids.add(alert.alert_id)
    decided = len(cases.fraud_alerts(store_path)) if store_path.exists() else 0
    return len(true_ids), decided - len(true_ids)


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
    trigger_ends = con.execute("select call_id as trigger_call_id, end_at from intermediate.int_outbound_calls_costed").df()
    truth = con.execute("select incident_id, kind, cast(start_at as timestamp) as started_at from fraud_truth").df()
    days = con.execute("select count(distinct cast(end_at as date)) from intermediate.int_outbound_calls_costed").fetchone()[0]
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


# --- why an alert fired (tollhouse fraud show) -----------------------------------------------------------


class AlertNotFound(Exception):
    """No alert of that id in the warehouse."""


# feature at the trigger -> the account's baseline column it is compared with (int_accounts_baselined)
_AGAINST_BASELINE = (
    ("calls_1h", "peak_calls", "calls in the last hour", "busiest hour"),
    ("exposure_1h_eur", "peak_exposure_eur", "exposure of the last hour (EUR)", "costliest hour"),
    ("concurrent_calls", "peak_concurrent_calls", "calls up at once", "most concurrent hour"),
    ("off_hours_calls_1h", "peak_off_hours_calls", "off-hours calls in the last hour", "busiest off-hours hour"),
    ("high_risk_calls_1h", "peak_high_risk_calls", "high-risk calls in the last hour", "busiest high-risk hour"),
)


def _rules() -> dict[str, dict]:
    return {
        r["id"]: r for r in yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["fraud_rules"]
    }


def explain_alert(
    con: duckdb.DuckDBPyConnection, alert_id: str, calls: int = 10, filed: cases.FraudAlert | None = None
) -> str:
    """Why an alert fired, as text: the rules hit with their thresholds, the model's score, the features at the
    triggering call against the account's baseline, its first `calls` calls and the exposure so far.
    Raises AlertNotFound for an id no detector raised."""
    found = con.execute(
        """select detector, account_id, raised_at, last_trigger_at, trigger_call_id, triggers, peak_model_score,
            rules_hit, calls, exposure_eur, exposure_at_alert_eur, within_budget
        from intermediate.int_fraud_alerts_triggered where alert_id = $id
        order by detector = 'combined' desc, detector limit 1""",
        {"id": alert_id},
    ).df()
    if found.empty and filed is not None:  # filed by an earlier run whose model or rules no longer raise it
        found = con.execute(
            """select 'filed earlier, no longer raised' as detector, account_id, end_at as raised_at,
                $last as last_trigger_at, call_id as trigger_call_id, 1 as triggers, $score as peak_model_score,
                $rules as rules_hit, 0 as calls, $exposure as exposure_eur, 0 as exposure_at_alert_eur,
                false as within_budget
            from marts.fct_fraud_features where account_id = $account and end_at = $raised
            order by call_id limit 1""",
            {
                "account": filed.account_id,
                "raised": pd.Timestamp(filed.raised_at).tz_localize(None),
                "last": pd.Timestamp(filed.last_trigger_at).tz_localize(None),
                "score": filed.model_score or 0.0,
                "rules": list(filed.rules_hit),
                "exposure": float(filed.exposure_eur),
            },
        ).df()
    if found.empty:
        raise AlertNotFound(f"no fraud alert {alert_id} in the warehouse (`tollhouse fraud alerts` lists them)")
    a = found.iloc[0]
    features = con.execute("select * from marts.fct_fraud_features where call_id = $c", {"c": a.trigger_call_id}).df()
    f = features.iloc[0] if len(features) else pd.Series(dtype=object)
    day = pd.Timestamp(f.get("end_at", a.raised_at)).date()
    baseline = con.execute(
        "select * from intermediate.int_accounts_baselined where account_id = $a and day = $d",
        {"a": a.account_id, "d": day},
    ).df()
    b = baseline.iloc[0] if len(baseline) else pd.Series(dtype=object)
    score = con.execute(
        "select model_score, model_threshold, model_version from fraud.model_scores where call_id = $c",
        {"c": a.trigger_call_id},
    ).fetchone()
    status = "open"
    try:
        row = con.execute("select status from marts.fct_fraud_alerts where alert_id = $id", {"id": alert_id}).fetchone()
        status = row[0] if row else "not in the queue (over the day's budget, or another detector's)"
        if not row and filed is not None:
            status = f"{filed.status} (filed earlier)"
    except duckdb.CatalogException:
        pass

    lines = [
        f"{alert_id}: account {a.account_id}, detector {a.detector}, "
        f"raised {pd.Timestamp(a.raised_at):%Y-%m-%d %H:%M:%S} UTC, "
        f"last trigger {pd.Timestamp(a.last_trigger_at):%Y-%m-%d %H:%M:%S} UTC, {a.triggers} trigger(s); "
        f"status: {status}",
        "",
        "Rules at the triggering call (feature value >= threshold):",
    ]
    rules = _rules()
    hits = list(f.get("rule_hits", []) if len(f) else [])
    for hit in hits:
        rule = rules.get(hit.split(" ")[0], {})
        lines.append(f"  {hit}   (warning {rule.get('warning')}, critical {rule.get('critical')}: "
                     f"{rule.get('description', '')})")  # fmt: skip
    if not hits:
        lines.append("  none")
    other = [r for r in list(a.rules_hit) if r not in {h.split(" ")[0] for h in hits}]
    if other:
        lines.append(f"  later in the alert: {', '.join(other)}")
    lines.append("")
    if score is None or score[0] is None:
        lines.append("Model: no score for the triggering call (no model had scored it)")
    else:
        verdict = "anomalous" if score[0] >= score[1] else "below the threshold"
        lines.append(f"Model {score[2]}: score {score[0]:.6f} against threshold {score[1]:.6f} ({verdict}); "
                     f"peak in the alert {a.peak_model_score:.6f}")  # fmt: skip
    history = int(b["history_days"]) if len(b) else 0
    lines += ["", f"Features at the trigger against the account's normal ({history} day(s) of baseline before {day}):"]
    for feature, peak, label, peak_label in _AGAINST_BASELINE:
        if feature in f:
            normal = f"{float(b[peak]):g} ({peak_label})" if len(b) and peak in b else "no baseline"
            lines.append(f"  {label:<36} {float(f[feature]):>10g}   normal: {normal}")
    ratios = [c for c in f.index if c.endswith("_ratio") or c.endswith("_excess_1h") or c.endswith("_6h")
              or c.endswith("_24h") or c.startswith("new_destinations")]  # fmt: skip
    for column in ratios:
        value = f[column]
        if isinstance(value, (int, float, np.integer, np.floating)) and not pd.isna(value):
            lines.append(f"  {column:<36} {float(value):>10g}")
    shown = con.execute(
        """select start_at, end_at, b_number, destination_country, billable_seconds, exposure_eur
        from intermediate.int_outbound_calls_costed
        where account_id = $a and end_at between $from and $to order by end_at, call_id""",
        {
            "a": a.account_id,
            "from": pd.Timestamp(a.raised_at) - pd.Timedelta(hours=1),
            "to": pd.Timestamp(a.last_trigger_at),
        },
    ).df()
    lines += [
        "",
        f"Calls from an hour before the alert to its last trigger: {len(shown)}, the first {min(calls, len(shown))}:",
        f"  {'start (UTC)':<20} {'end (UTC)':<20} {'destination':<16} {'country':<8} {'seconds':>8} "
        f"{'exposure EUR':>13}",
    ]
    for c in shown.head(calls).itertuples():
        lines.append(
            f"  {pd.Timestamp(c.start_at):%Y-%m-%d %H:%M:%S}  {pd.Timestamp(c.end_at):%Y-%m-%d %H:%M:%S}  "
            f"{c.b_number:<16} {c.destination_country or '-':<8} {int(c.billable_seconds):>8} "
            f"{float(c.exposure_eur):>13,.2f}"
        )
    if filed is not None and a.detector.startswith("filed"):  # no alert row today: from the calls themselves
        a = a.copy()
        a["calls"], a["exposure_eur"] = len(shown), shown.exposure_eur.astype(float).sum()
        a["exposure_at_alert_eur"] = shown.exposure_eur[shown.end_at <= a.raised_at].astype(float).sum()
    lines += [
        "",
        f"Exposure: {float(a.exposure_at_alert_eur):,.2f} EUR in the hour up to the alert; "
        f"{float(a.exposure_eur):,.2f} EUR so far over {int(a.calls)} call(s).",
    ]
    return "\n".join(lines)
