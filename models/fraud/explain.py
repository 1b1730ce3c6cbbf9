"""Why an alert fired (`tollhouse fraud show`): the rules hit, the model's score, the features at the trigger
against the account's baseline, and the calls around it."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import yaml

from orchestration.assurance import alert_queue
from orchestration.settings import DBT_PROJECT_DIR


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
    con: duckdb.DuckDBPyConnection, alert_id: str, calls: int = 10, filed: alert_queue.FraudAlert | None = None
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
