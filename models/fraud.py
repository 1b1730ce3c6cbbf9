"""The unsupervised fraud model: an Isolation Forest over the rows of marts.fct_fraud_features.

Each row is what a streaming detector knows of an account when a call's CDR arrives (its last hour and
day against its own baseline). The forest learns what ordinary rows look like and scores how easily a
row is isolated; the threshold is the score the top `alert_share` of training rows reach. Analysts'
decisions on earlier alerts are labels: the threshold rises above the false alarms analysts dismissed, never
above the peak of what they confirmed, and the card reports how many confirmed and dismissed rows the new
model flags. Confirmed rows are not left out of training: measured (tests/test_fraud.py), a forest that
never saw an attack scores it lower, because its values then lie outside every split's range.

A model file carries MODEL_FORMAT and the scikit-learn version; a file of another format or version is
refused with the reason, never scored with (a forest pickled by another version may not load, or load
and score differently).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import IsolationForest

MODEL_FORMAT = 2  # bump when FEATURES, their transforms or the file layout change
# (column of fct_fraud_features, transform): counts and money on a log scale, shares as they are.
FEATURES: tuple[tuple[str, str], ...] = (
    ("calls_1h", "log"),
    ("minutes_1h", "log"),
    ("exposure_1h_eur", "log"),
    ("exposure_ratio", "log"),
    ("concurrency_ratio", "log"),
    ("calls_ratio", "log"),
    ("off_hours_calls_ratio", "log"),
    ("callback_accounts_6h", "log"),
    ("new_account_exposure_24h", "log"),
    ("high_risk_share_1h", "share"),
    ("short_share_1h", "share"),
    ("new_destination_share_1h", "share"),
    ("distinct_number_share_1h", "share"),
)
COLUMNS = tuple(name for name, _ in FEATURES)
TRAINING_ROWS = 250_000  # a forest sees max_samples rows per tree: more rows buy nothing but time


class ModelFileError(Exception):
    """A model file that cannot be used, with the reason in words."""


@dataclass
class FraudModel:
    version: str  # content-derived: the same training data and settings give the same version
    seed: int
    trained_from: date
    trained_to: date
    threshold: float  # a row scoring at or above this is anomalous
    metrics: dict = field(default_factory=dict)
    estimator: IsolationForest | None = None
    features: tuple[str, ...] = COLUMNS
    format: int = MODEL_FORMAT
    sklearn_version: str = sklearn.__version__

    def card(self) -> dict:
        """What the model is, for the asset's metadata and the model's JSON card."""
        return {
            "version": self.version,
            "format": self.format,
            "sklearn_version": self.sklearn_version,
            "seed": self.seed,
            "trained_from": self.trained_from.isoformat(),
            "trained_to": self.trained_to.isoformat(),
            "threshold": self.threshold,
            "features": list(self.features),
            "metrics": self.metrics,
        }


def matrix(rows: pd.DataFrame) -> np.ndarray:
    """The model's inputs from feature rows (fct_fraud_features columns, or derived here)."""
    calls = rows["calls_1h"].clip(lower=1).astype(float)
    derived = {
        "high_risk_share_1h": rows["high_risk_calls_1h"] / calls,
        "short_share_1h": rows["short_calls_1h"] / calls,
        "new_destination_share_1h": rows["new_destinations_1h"] / calls,
        "distinct_number_share_1h": rows["distinct_numbers_1h"] / calls,
    }
    columns = []
    for name, transform in FEATURES:
        values = (derived[name] if name in derived else rows[name]).astype(float).fillna(0).to_numpy()
        columns.append(np.log1p(np.clip(values, 0, None)) if transform == "log" else values)
    return np.column_stack(columns)


def train(
    rows: pd.DataFrame,
    seed: int,
    confirmed: pd.Series | None = None,
    dismissed: pd.Series | None = None,
    alert_share: float = 0.0005,
    trees: int = 200,
) -> FraudModel:
    """A forest over `rows` (fct_fraud_features, ordered by call_id); `confirmed`/`dismissed` mark rows
    inside alerts analysts decided (aligned with rows). Deterministic for a seed and the same rows."""
    if rows.empty:
        raise ValueError("no feature rows to train on: run the pipeline (features) first")
    confirmed = confirmed if confirmed is not None else pd.Series(False, index=rows.index)
    dismissed = dismissed if dismissed is not None else pd.Series(False, index=rows.index)
    sample = rows
    # A deterministic sample: by a hash of the call id (pandas' fixed-key hash, vectorised), so the same
    # calls give the same sample whatever their order.
    if len(sample) > TRAINING_ROWS:
        keys = pd.util.hash_pandas_object(sample["call_id"], index=False)
        sample = sample.loc[keys.sort_values(kind="stable").index[:TRAINING_ROWS]].sort_values("call_id")
    inputs = matrix(sample)
    forest = IsolationForest(n_estimators=trees, max_samples=256, random_state=seed, n_jobs=1)
    forest.fit(inputs)
    training_scores = -forest.score_samples(inputs)
    threshold = float(np.quantile(training_scores, 1 - alert_share))
    version = _version(inputs, seed, trees, alert_share)
    model = FraudModel(
        version=version,
        seed=seed,
        trained_from=pd.Timestamp(rows["end_at"].min()).date(),
        trained_to=pd.Timestamp(rows["end_at"].max()).date(),
        threshold=round(threshold, 6),
        estimator=forest,
    )
    # The analysts' decisions calibrate the threshold: raised just above the false alarms they dismissed, as
    # long as it stays at or below the peak of what they confirmed (a confirmed attack is never lost). Only the
    # labelled rows are scored here: scoring every row is the scores asset's work, not training's.
    confirmed_scores = score(model, rows[confirmed.to_numpy()])
    dismissed_scores = score(model, rows[dismissed.to_numpy()])
    ceiling = confirmed_scores.max() if len(confirmed_scores) else np.inf
    if len(dismissed_scores) and threshold < dismissed_scores.max() + 1e-6 <= ceiling:
        model.threshold = round(float(dismissed_scores.max()) + 1e-6, 6)
    confirmed_flagged = confirmed_scores >= model.threshold
    dismissed_flagged = dismissed_scores >= model.threshold
    model.metrics = {
        "rows": len(rows),
        "training_rows": len(sample),
        "trees": trees,
        "alert_share": alert_share,
        "quantile_threshold": round(threshold, 6),
        "threshold_from_labels": model.threshold != round(threshold, 6),
        "anomalous_training_rows": int((training_scores >= model.threshold).sum()),
        "labelled_confirmed_rows": int(confirmed.sum()),
        "labelled_dismissed_rows": int(dismissed.sum()),
        # of the rows analysts confirmed as fraud, how many this model flags; of the dismissed, how many
        "confirmed_flagged": int(confirmed_flagged.sum()),
        "dismissed_flagged": int(dismissed_flagged.sum()),
    }
    return model


def score(model: FraudModel, rows: pd.DataFrame) -> np.ndarray:
    """Anomaly scores (higher: more unusual), rounded so that the same model gives the same numbers."""
    if rows.empty:
        return np.zeros(0)
    return np.round(-model.estimator.score_samples(matrix(rows)), 6)


def _version(inputs: np.ndarray, seed: int, trees: int, alert_share: float) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(inputs).tobytes())
    digest.update(json.dumps([MODEL_FORMAT, seed, trees, alert_share, COLUMNS]).encode())
    return f"if-{digest.hexdigest()[:12]}"


# --- files ---------------------------------------------------------------------------------------------


def save(model: FraudModel, folder: Path) -> Path:
    """`folder/<version>.joblib` and its JSON card, then CURRENT names it (atomic replace)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model.version}.joblib"
    joblib.dump(model, path)
    (folder / f"{model.version}.json").write_text(json.dumps(model.card(), indent=2) + "\n")
    pointer = folder / "CURRENT.tmp"
    pointer.write_text(model.version + "\n")
    os.replace(pointer, folder / "CURRENT")
    return path


def current(folder: Path) -> Path:
    pointer = folder / "CURRENT"
    if not pointer.exists():
        raise ModelFileError(f"no fraud model in {folder}: train one first (`tollhouse fraud train`)")
    return folder / f"{pointer.read_text().strip()}.joblib"


def load(path: Path) -> FraudModel:
    """The model in `path`, or ModelFileError saying why it cannot be used."""
    if not path.exists():
        raise ModelFileError(f"no model file at {path}")
    try:
        model = joblib.load(path)
    except Exception as exc:  # a pickle of other code: whatever it raises, the answer is the same
        raise ModelFileError(f"{path} is not a model this tollhouse can read ({exc}); retrain") from exc
    if not isinstance(model, FraudModel):
        raise ModelFileError(f"{path} holds a {type(model).__name__}, not a fraud model; retrain")
    if getattr(model, "format", None) != MODEL_FORMAT:
        raise ModelFileError(
            f"{path} is model format {getattr(model, 'format', '?')}, this tollhouse reads format {MODEL_FORMAT} "
            "(its features changed): retrain with `tollhouse fraud train`"
        )
    if model.sklearn_version != sklearn.__version__:
        raise ModelFileError(
            f"{path} was trained with scikit-learn {model.sklearn_version}, this is {sklearn.__version__}: "
            "retrain with `tollhouse fraud train`"
        )
    return model
