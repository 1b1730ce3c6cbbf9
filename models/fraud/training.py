"""The fraud model on the warehouse (docs/fraud.md): train it on the features dbt builds (fct_fraud_features),
labelled by the analysts' decisions in the case store, and score every feature row.

The features, rules and alerts are dbt models (models/*/fraud); the model file is models/fraud/model.py. Scores
go to `fraud.model_scores`, with the analysts' decisions copied from the case store to `fraud.alert_decisions`,
for the alert models to read.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from models.fraud import model as model_lib
from orchestration.assurance import alert_queue
from orchestration.warehouse import migrate

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
    for alert in alert_queue.fraud_alerts(store_path):
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
    alerted = {a.account_id for a in alert_queue.fraud_alerts(store_path)} if store_path.exists() else set()
    labels = classifier_labels(rows, confirmed, dismissed, alerted)
    if labels.notna().any():
        model = model_lib.add_classifier(model, rows, labels, seed=seed)
    model_lib.save(model, models_dir)
    return model


def score(con: duckdb.DuckDBPyConnection, models_dir: Path, store_path: Path) -> tuple[model_lib.FraudModel, int]:
    """Score every feature row with the current model into fraud.model_scores, and copy the analysts'
    decisions to fraud.alert_decisions. Raises ModelFileError for a model that cannot be used."""
    migrate(con)
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
    decided = [a for a in (alert_queue.fraud_alerts(store_path) if store_path.exists() else []) if a.status != "open"]
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
