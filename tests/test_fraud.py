"""Fraud detection: the model's determinism and file checks, the alert store, and the simulator's incidents.

The end-to-end figures (precision, recall, delay on the held-out mix) come from `tollhouse fraud evaluate`
(docs/fraud-evaluation.md); the Dagster path is exercised by `make run` and tests/test_dagster.py.
"""

from datetime import UTC, datetime
from decimal import Decimal

import joblib
import numpy as np
import pandas as pd
import pytest

from models.fraud import model as model_lib
from orchestration.assurance import alert_queue, cases


def _rows(n: int, seed: int) -> pd.DataFrame:
    """Feature rows as fct_fraud_features has them: ordinary traffic, then a few burst rows."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "call_id": [f"c{i:06d}" for i in range(n)],
            "account_id": rng.choice(["A", "B", "C"], n),
            "end_at": pd.Timestamp("2026-10-01") + pd.to_timedelta(np.arange(n) * 60, unit="s"),
            "calls_1h": rng.poisson(20, n),
            "minutes_1h": rng.gamma(4, 5, n),
            "exposure_1h_eur": rng.gamma(2, 0.5, n),
            "exposure_ratio": rng.uniform(0, 1.2, n),
            "concurrency_ratio": rng.uniform(0, 1.2, n),
            "calls_ratio": rng.uniform(0, 1.2, n),
            "off_hours_calls_ratio": rng.uniform(0, 1, n),
            "callback_accounts_6h": np.zeros(n),
            "new_account_exposure_24h": np.zeros(n),
            "high_risk_calls_1h": np.zeros(n),
            "short_calls_1h": rng.poisson(1, n),
            "new_destinations_1h": rng.poisson(0.1, n),
            "distinct_numbers_1h": rng.poisson(15, n),
        }
    )
    burst = rows.index[-5:]
    columns = [
        "calls_1h",
        "exposure_1h_eur",
        "exposure_ratio",
        "concurrency_ratio",
        "high_risk_calls_1h",
        "callback_accounts_6h",
    ]
    rows.loc[burst, columns] = [80, 60.0, 9.0, 6.0, 30, 12]
    return rows


def test_training_is_deterministic_for_a_seed_and_flags_the_burst():
    rows = _rows(3000, seed=1)
    first, second = model_lib.train(rows, seed=7, alert_share=0.01), model_lib.train(rows, seed=7, alert_share=0.01)
    assert first.version == second.version and first.threshold == second.threshold
    assert np.array_equal(model_lib.score(first, rows), model_lib.score(second, rows))
    other = model_lib.train(rows, seed=8, alert_share=0.01)
    assert other.version != first.version
    scores = model_lib.score(first, rows)
    assert (scores[-5:] >= first.threshold).all()  # the burst rows are anomalous
    assert (scores[:-5] >= first.threshold).mean() < 0.02  # ordinary rows mostly are not


def test_labels_are_scored_and_not_left_out_of_training():
    """Leaving confirmed fraud out of training was tried: the forest then scores those rows lower (their values
    lie outside every split's range), so labels are reported on, not removed."""
    rows = _rows(1000, seed=2)
    confirmed = pd.Series(False, index=rows.index)
    confirmed[-5:] = True
    dismissed = pd.Series(False, index=rows.index)
    dismissed[:10] = True
    model = model_lib.train(rows, seed=7, confirmed=confirmed, dismissed=dismissed, alert_share=0.01)
    flagged = model_lib.score(model, rows) >= model.threshold
    assert model.metrics["training_rows"] == 1000
    assert (model.metrics["labelled_confirmed_rows"], model.metrics["labelled_dismissed_rows"]) == (5, 10)
    assert model.metrics["confirmed_flagged"] == int(flagged[-5:].sum()) > 0
    assert model.metrics["dismissed_flagged"] == int(flagged[:10].sum())


def test_dismissed_false_alarms_raise_the_threshold_but_never_above_a_confirmed_attack():
    rows = _rows(2000, seed=4)
    plain = model_lib.train(rows, seed=7, alert_share=0.01)
    scores = model_lib.score(plain, rows)
    ordinary = scores[:-5]
    # an ordinary row above the threshold, dismissed by an analyst: the next model sets the bar just above it
    false_alarm = int(np.flatnonzero(ordinary >= plain.threshold)[np.argmax(ordinary[ordinary >= plain.threshold])])
    dismissed = pd.Series(False, index=rows.index)
    dismissed[false_alarm] = True
    confirmed = pd.Series(False, index=rows.index)
    confirmed[-5:] = True  # the burst, which scores higher
    calibrated = model_lib.train(rows, seed=7, confirmed=confirmed, dismissed=dismissed, alert_share=0.01)
    assert calibrated.threshold == round(float(scores[false_alarm]) + 1e-6, 6) > plain.threshold
    assert calibrated.metrics["threshold_from_labels"] and calibrated.metrics["dismissed_flagged"] == 0
    assert calibrated.metrics["confirmed_flagged"] >= 1  # the confirmed attack's peak is still above the bar

    # a confirmed attack that scores below the false alarm keeps the bar where it was
    weak = pd.Series(False, index=rows.index)
    weak[int(np.argmin(np.where(ordinary >= plain.threshold, ordinary, np.inf)))] = True
    kept = model_lib.train(rows, seed=7, confirmed=weak, dismissed=dismissed, alert_share=0.01)
    assert kept.threshold == plain.threshold and not kept.metrics["threshold_from_labels"]


def test_a_model_file_of_another_format_or_version_is_refused(tmp_path):
    model = model_lib.train(_rows(500, seed=3), seed=7)
    path = model_lib.save(model, tmp_path)
    assert model_lib.current(tmp_path) == path
    assert model_lib.load(path).version == model.version

    model.format = model_lib.MODEL_FORMAT - 1
    joblib.dump(model, path)
    older, current = model_lib.MODEL_FORMAT - 1, model_lib.MODEL_FORMAT
    with pytest.raises(
        model_lib.ModelFileError, match=rf"model format {older}, this tollhouse reads format {current}.*retrain"
    ):
        model_lib.load(path)
    model.format, model.sklearn_version = model_lib.MODEL_FORMAT, "0.24.2"
    joblib.dump(model, path)
    with pytest.raises(model_lib.ModelFileError, match=r"trained with scikit-learn 0\.24\.2"):
        model_lib.load(path)
    joblib.dump({"not": "a model"}, path)
    with pytest.raises(model_lib.ModelFileError, match="holds a dict"):
        model_lib.load(path)
    with pytest.raises(model_lib.ModelFileError, match="train one first"):
        model_lib.current(tmp_path / "empty")


def _alert(alert_id: str, exposure: str) -> alert_queue.FraudAlert:
    at = datetime(2026, 10, 12, 14, 51, 59, tzinfo=UTC)
    return alert_queue.FraudAlert(alert_id, "ACC-00026", at, at, Decimal(exposure), ("FR-01", "FR-02"), 0.79)


def test_alerts_are_filed_once_and_decisions_survive_the_next_sync(tmp_path):
    store = tmp_path / "cases.sqlite"
    assert alert_queue.sync_fraud_alerts(store, [_alert("FA-1", "418.10"), _alert("FA-2", "7.05")]) == 2
    decided = alert_queue.decide_alert(
        store, "FA-1", "confirmed", "ana", "PBX of a dental practice, confirmed by phone"
    )
    assert decided.status == "confirmed" and decided.decided_by == "ana"
    # the next run refreshes the exposure, never the decision
    assert alert_queue.sync_fraud_alerts(store, [_alert("FA-1", "500.00")]) == 0
    again = alert_queue.fraud_alerts(store, alert_id="FA-1")[0]
    assert (again.status, again.exposure_eur) == ("confirmed", Decimal("500.00"))
    assert [a.alert_id for a in alert_queue.fraud_alerts(store)] == ["FA-1", "FA-2"]  # most exposed first
    with pytest.raises(cases.CaseError, match="already confirmed"):
        alert_queue.decide_alert(store, "FA-1", "confirmed", "ana")
    with pytest.raises(cases.CaseError, match="no fraud alert FA-9"):
        alert_queue.decide_alert(store, "FA-9", "dismissed", "ana")
    with pytest.raises(cases.CaseError, match="decision must be one of"):
        alert_queue.decide_alert(store, "FA-2", "maybe", "ana")
    con = cases.connect(store)
    try:
        actions = [r[0] for r in con.execute("select action from fraud_alert_events order by event_id")]
        assert actions == ["filed", "filed", "confirmed"]
        with pytest.raises(Exception, match="append-only"):
            con.execute("delete from fraud_alert_events")
    finally:
        con.close()
