"""The unsupervised fraud model: an Isolation Forest over the rows of marts.fct_fraud_features.

Each row is what a streaming detector knows of an account when a call's CDR arrives (its last hour and
day against its own baseline). The forest learns what ordinary rows look like and scores how easily a
row is isolated; the threshold is the score the top `alert_share` of training rows reach. Analysts'
decisions on earlier alerts are labels: the threshold rises above the false alarms analysts dismissed, never
above the peak of what they confirmed, and the card reports how many confirmed and dismissed rows the new
model flags. Confirmed rows are not left out of training: measured (tests/test_fraud.py), a forest that
never saw an attack scores it lower, because its values then lie outside every split's range.

A second, supervised stage (`add_classifier`) learns from the analysts' labels: gradient boosting on the same
inputs plus the forest's score, trained only on labelled rows, its threshold chosen on labelled rows it did not
train on (whole account-days held out). With a classifier the model's score is its probability and the model's
threshold the classifier's; the forest's own threshold stays in the card.

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
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.metrics import average_precision_score, precision_recall_curve

MODEL_FORMAT = 3  # bump when FEATURES, their transforms or the file layout change
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
    # the pattern rules' features (FR-08..FR-11): Wangiri callbacks, trunk over its normal, SIM-box, slow spend
    ("wangiri_callbacks_6h", "log"),
    ("trunk_capacity_ratio", "log"),
    ("uniform_callees_1h", "log"),
    ("range_spend_ratio", "log"),
)
COLUMNS = tuple(name for name, _ in FEATURES)
_PATTERN_FEATURES = {"wangiri_callbacks_6h", "trunk_capacity_ratio", "uniform_callees_1h", "range_spend_ratio"}
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
    classifier: AlertClassifier | None = None  # the supervised stage, when analysts' labels allowed one
    forest_threshold: float | None = None  # the forest's own threshold once a classifier sets `threshold`

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
            "stages": ["isolation_forest"] + (["gradient_boosting"] if self.classifier is not None else []),
            "forest_threshold": self.forest_threshold if self.classifier is not None else self.threshold,
            "classifier": self.classifier.metrics if self.classifier is not None else None,
        }


@dataclass
class AlertClassifier:
    """Gradient boosting over the forest's inputs and score, trained on analysts' labels."""

    estimator: HistGradientBoostingClassifier
    threshold: float
    metrics: dict = field(default_factory=dict)


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
        if name in _PATTERN_FEATURES and name not in rows:  # hand-made frames (tests) may leave them out
            values = np.zeros(len(rows))
        else:
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
    """The model's scores (higher: more likely fraud), rounded so that the same model gives the same numbers:
    the classifier's probability when the model has one, else the forest's anomaly score."""
    if rows.empty:
        return np.zeros(0)
    inputs = matrix(rows)
    forest = np.round(-model.estimator.score_samples(inputs), 6)
    if getattr(model, "classifier", None) is None:
        return forest
    return np.round(model.classifier.estimator.predict_proba(np.column_stack([inputs, forest]))[:, 1], 6)


def held_out_groups(rows: pd.DataFrame, share: float = 0.3) -> np.ndarray:
    """True for rows whose account-day is held out of the classifier's training (a fixed hash of the key, so
    the same rows are held out whatever their order): rows of one account and day are never on both sides."""
    keys = rows["account_id"].astype(str) + "|" + pd.to_datetime(rows["end_at"]).dt.strftime("%Y-%m-%d")
    buckets = pd.util.hash_pandas_object(keys, index=False).to_numpy() % 1000
    return buckets < int(share * 1000)


def add_classifier(
    model: FraudModel, rows: pd.DataFrame, labels: pd.Series, seed: int, min_labels: int = 5
) -> FraudModel:
    """The model with a supervised stage trained on `labels` (1 fraud, 0 not, NaN unlabelled; aligned with
    rows). Only labelled rows are used: those of held-out account-days choose the threshold (the F1-best
    probability) and give the card's precision, recall and PR-AUC; the rest train. Without `min_labels` of each
    class on both sides the model is returned as it was (metrics say why)."""
    labelled = labels.notna().to_numpy()
    rows, y = rows[labelled], labels[labelled].astype(int).to_numpy()
    held = held_out_groups(rows)
    counts = {
        "train_fraud": int(y[~held].sum()),
        "train_legitimate": int((~held).sum() - y[~held].sum()),
        "validation_fraud": int(y[held].sum()),
        "validation_legitimate": int(held.sum() - y[held].sum()),
    }
    if min(counts.values()) < min_labels:
        model.metrics["classifier_skipped"] = f"too few labels: {counts}"
        return model
    forest_scores = np.round(-model.estimator.score_samples(matrix(rows)), 6)
    inputs = np.column_stack([matrix(rows), forest_scores])
    estimator = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
    estimator.fit(inputs[~held], y[~held])
    validation = np.round(estimator.predict_proba(inputs[held])[:, 1], 6)
    precision, recall, thresholds = precision_recall_curve(y[held], validation)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    threshold = float(thresholds[best]) if len(thresholds) else 0.5
    flagged = validation >= threshold
    counts.update(
        threshold=threshold,
        validation_precision=round(float(y[held][flagged].mean()) if flagged.any() else 0.0, 4),
        validation_recall=round(float(flagged[y[held] == 1].mean()), 4),
        validation_pr_auc=round(float(average_precision_score(y[held], validation)), 4),
    )
    digest = hashlib.sha256(model.version.encode())
    digest.update(np.ascontiguousarray(inputs).tobytes())
    digest.update(y.tobytes())
    model.version = f"gb-{digest.hexdigest()[:12]}"
    model.classifier = AlertClassifier(estimator, threshold, counts)
    model.forest_threshold, model.threshold = model.threshold, threshold
    return model


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
