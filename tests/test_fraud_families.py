"""The held-out fraud kinds have the shape they claim (simulator only: no pipeline), the held-out mix is
deterministic and leaves the training mix as it was; the supervised alert model trains on labelled rows only
and is judged on rows it never saw; `tollhouse fraud show` explains an alert.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from tools.simulator import SimulationConfig, simulate
from tools.simulator.fraud import HOLDOUT_KINDS, MIXES

HOT = ("37190", "37090", "5352", "25290", "23230")  # the seed fraud_high_risk_ranges.csv


@pytest.fixture(scope="module")
def holdout(tmp_path_factory):
    """A small held-out month: 12 accounts, 300 calls a day, every held-out kind twice."""
    out = tmp_path_factory.mktemp("holdout")
    simulate(SimulationConfig(seed=5, accounts=12, calls_per_day=300, fraud="holdout", out=out))
    con = duckdb.connect()
    con.execute(
        f"""create table calls as select c.*, i.kind from '{out}/ground_truth/calls.parquet' c
        join read_csv('{out}/ground_truth/fraud_incidents.csv') i on i.incident_id = c.fraud_incident_id"""
    )
    con.execute(f"create table incidents as select * from read_csv('{out}/ground_truth/fraud_incidents.csv')")
    return out, con


def _frame(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def test_the_held_out_mix_has_every_new_kind_and_the_training_mix_none():
    assert MIXES["training"].extra_kinds == ()
    assert set(MIXES["holdout"].extra_kinds) == set(HOLDOUT_KINDS)


def test_every_held_out_kind_is_recorded_with_its_calls(holdout):
    _, con = holdout
    kinds = dict(con.execute("select kind, count(*) from incidents group by kind").fetchall())
    for kind in HOLDOUT_KINDS:
        assert kinds.get(kind) == 2, kind
    counted = dict(con.execute("select fraud_incident_id, count(*) from calls group by 1").fetchall())
    assert counted == dict(con.execute("select incident_id, calls from incidents").fetchall())


def test_wangiri_inbound_rings_once_from_premium_numbers_then_some_customers_call_back(holdout):
    _, con = holdout
    hot = " or ".join(f"starts_with({{col}}, '{p}')" for p in HOT)
    rows = _frame(
        con,
        f"""select fraud_incident_id,
            count(*) filter (where direction = 'inbound') as rings,
            count(*) filter (where direction = 'inbound' and disposition = 'answered') as answered_rings,
            max(duration_seconds) filter (where direction = 'inbound') as longest_ring,
            count(*) filter (where direction = 'inbound' and not ({hot.format(col="a_number")})) as not_premium,
            count(distinct account_id) filter (where direction = 'inbound') as accounts,
            count(*) filter (where direction = 'outbound') as callbacks,
            count(*) filter (where direction = 'outbound' and b_number not in (
                select a_number from calls c2 where c2.fraud_incident_id = calls.fraud_incident_id
                and c2.direction = 'inbound')) as callbacks_elsewhere,
            min(start_at) filter (where direction = 'outbound') > min(start_at) filter (where direction = 'inbound')
                as rings_first
        from calls where kind = 'wangiri_inbound' group by 1""",
    )
    for r in rows.itertuples():
        assert r.rings >= 20 and r.answered_rings == 0 and r.longest_ring <= 4 and r.not_premium == 0
        assert r.accounts >= 2  # several customers
        assert 0 < r.callbacks < r.rings and r.rings_first
        assert r.callbacks_elsewhere <= 0.1 * r.callbacks  # the switch faults re-point a few calls anywhere


def test_pbx_over_capacity_runs_far_more_channels_than_ordered_on_cheap_calls(holdout):
    _, con = holdout
    rows = _frame(
        con,
        """with c as (select fraud_incident_id, start_at, end_at from calls where kind = 'pbx_over_capacity'),
        peaks as (select a.fraud_incident_id, max(n) as peak from (
            select a.fraud_incident_id, a.start_at, count(*) as n from c a join c b
            on a.fraud_incident_id = b.fraud_incident_id and b.start_at <= a.start_at and b.end_at > a.start_at
            group by all) a group by 1)
        select peaks.*, i.detail from peaks join incidents i on i.incident_id = peaks.fraud_incident_id""",
    )
    for r in rows.itertuples():
        channels, ordered = (int(w) for w in np.array(r.detail.split())[[0, 6]])
        assert channels >= ordered + 6
        assert r.peak >= 1.5 * ordered  # the trunk is far over what was ordered
    destinations = {
        r[0]
        for r in con.execute("select distinct left(b_number, 4) from calls where kind = 'pbx_over_capacity'").fetchall()
    }
    assert not any(d.startswith(HOT) for d in destinations)  # cheap ranges, not the hot list
    # modest per-call length: a few minutes
    median = con.execute(
        "select median(billable_seconds) from calls where kind = 'pbx_over_capacity' and disposition = 'answered'"
    ).fetchone()[0]
    assert 60 <= median <= 300


def test_sim_box_few_callers_many_distinct_callees_near_identical_durations(holdout):
    _, con = holdout
    rows = _frame(
        con,
        """select fraud_incident_id, count(*) as calls, count(distinct b_number) as callees,
            count(distinct a_number) as callers, stddev(billable_seconds) / avg(billable_seconds) as cv,
            count(distinct date_trunc('hour', start_at)) as hours
        from calls where kind = 'sim_box' and disposition = 'answered' and call_type like 'domestic%' group by 1""",
    )
    assert len(rows) == 2
    for r in rows.itertuples():
        assert r.callers <= 3 and r.callees >= 0.99 * r.calls and r.calls >= 200
        assert r.cv < 0.05  # ordinary answered calls: a CV near 1
        assert r.hours >= 20  # round the clock, not a burst


def test_slow_persistent_is_a_few_long_calls_a_day_to_one_premium_number_for_two_weeks(holdout):
    _, con = holdout
    rows = _frame(
        con,
        """select fraud_incident_id, count(distinct b_number) as numbers, count(distinct start_at::date) as days,
            max(per_day) as most_a_day, min(billable_seconds) as shortest, any_value(b_number) as number
        from (select *, count(*) over (partition by fraud_incident_id, start_at::date) as per_day
              from calls where kind = 'slow_persistent') group by 1""",
    )
    assert len(rows) == 2
    for r in rows.itertuples():
        assert r.numbers == 1 and r.number.startswith(HOT)
        assert 12 <= r.days <= 15 and r.most_a_day <= 4 and r.shortest >= 250


def test_unpriced_hijack_calls_a_range_no_plan_prices():
    """Every customer plan and vendor deck prices RATE_PREFIXES; the satellite range matches none of them."""
    from tools.simulator.numbering import RATE_PREFIXES

    assert not any("8816".startswith(p.prefix) or p.prefix.startswith("8816") for p in RATE_PREFIXES)


def test_unpriced_hijack_calls_only_that_range(holdout):
    _, con = holdout
    numbers = [r[0] for r in con.execute("select b_number from calls where kind = 'unpriced_hijack'").fetchall()]
    assert len(numbers) >= 6 and all(n.startswith("8816") for n in numbers)


def test_the_held_out_simulation_is_deterministic(holdout, tmp_path):
    out, _ = holdout
    again = tmp_path / "again"
    simulate(SimulationConfig(seed=5, accounts=12, calls_per_day=300, fraud="holdout", out=again))
    assert (again / "ground_truth/fraud_incidents.csv").read_text() == (
        out / "ground_truth/fraud_incidents.csv"
    ).read_text()


# --- the supervised stage ------------------------------------------------------------------------------


def _feature_rows(seed: int = 3) -> pd.DataFrame:
    """Feature rows of 12 accounts over 20 days; rows of accounts A00-A02 on days 5-14 at 3-4 pm are an attack
    (expensive, high-risk, concurrent)."""
    rng = np.random.default_rng(seed)
    end_at = pd.Timestamp("2026-10-01") + pd.to_timedelta(np.sort(rng.uniform(0, 20 * 86400, 6000)), unit="s")
    rows = pd.DataFrame(
        {
            "call_id": [f"c{i:06d}" for i in range(6000)],
            "account_id": [f"A{a:02d}" for a in rng.integers(0, 12, 6000)],
            "end_at": end_at,
            "calls_1h": rng.poisson(15, 6000),
            "minutes_1h": rng.gamma(4, 5, 6000),
            "exposure_1h_eur": rng.gamma(2, 0.5, 6000),
            "exposure_ratio": rng.uniform(0, 1.2, 6000),
            "concurrency_ratio": rng.uniform(0, 1.2, 6000),
            "calls_ratio": rng.uniform(0, 1.2, 6000),
            "off_hours_calls_ratio": rng.uniform(0, 1, 6000),
            "callback_accounts_6h": np.zeros(6000),
            "new_account_exposure_24h": np.zeros(6000),
            "high_risk_calls_1h": rng.poisson(0.2, 6000).astype(float),
            "short_calls_1h": rng.poisson(1, 6000),
            "new_destinations_1h": rng.poisson(0.1, 6000),
            "distinct_numbers_1h": rng.poisson(12, 6000),
        }
    )
    attack = (
        rows.account_id.isin(["A00", "A01", "A02"]) & rows.end_at.dt.day.between(5, 14) & (rows.end_at.dt.hour == 15)
    )
    rows.loc[attack, ["exposure_1h_eur", "exposure_ratio", "high_risk_calls_1h", "concurrency_ratio"]] = rng.uniform(
        20, 60, attack.sum()
    )[:, None] * np.array([1.0, 0.2, 0.3, 0.1])
    return rows.assign(attack=attack)


def test_the_classifier_trains_on_labelled_rows_only_and_chooses_its_threshold_on_rows_it_never_saw():
    from models.fraud import model as model_lib

    rows = _feature_rows()
    forest = model_lib.train(rows, seed=7, alert_share=0.01)
    labels = pd.Series(np.nan, index=rows.index)
    labels[rows.attack] = 1.0
    labels[(~rows.attack) & (rows.index % 3 == 0)] = 0.0  # a third of the ordinary rows labelled legitimate
    model = model_lib.add_classifier(__import__("copy").deepcopy(forest), rows, labels, seed=7)
    assert model.classifier is not None and model.version.startswith("gb-")
    assert model.forest_threshold == forest.threshold and model.threshold == model.classifier.threshold
    assert model.card()["stages"] == ["isolation_forest", "gradient_boosting"]
    m = model.classifier.metrics
    labelled = rows[labels.notna()]
    assert m["train_fraud"] + m["validation_fraud"] == int(rows.attack.sum())
    assert sum(m[k] for k in ("train_fraud", "train_legitimate", "validation_fraud", "validation_legitimate")) == len(
        labelled
    )

    # unlabelled rows, however they look, change nothing (the forest is the same)
    scrambled = rows.copy()
    unlabelled = labels.isna()
    scrambled.loc[unlabelled, "exposure_1h_eur"] = 999.0
    scrambled.loc[unlabelled, "high_risk_calls_1h"] = 50
    again = model_lib.add_classifier(__import__("copy").deepcopy(forest), scrambled, labels, seed=7)
    assert again.threshold == model.threshold
    assert np.array_equal(model_lib.score(again, labelled), model_lib.score(model, labelled))

    # the threshold is the F1-best probability on the held-out account-days, which the classifier never trained on
    held = model_lib.held_out_groups(labelled)
    keys = labelled.account_id + "|" + labelled.end_at.dt.strftime("%Y-%m-%d")
    assert not set(keys[held]) & set(keys[~held])  # no account-day on both sides
    assert held.sum() == m["validation_fraud"] + m["validation_legitimate"]
    validation = model_lib.score(model, labelled[held])
    truth = labelled.attack[held].to_numpy()
    best = max(
        np.unique(validation),
        key=lambda t: (2 * (truth & (validation >= t)).sum() / ((validation >= t).sum() + truth.sum()), t),
    )
    assert model.threshold == pytest.approx(best)
    flagged = validation >= model.threshold
    assert m["validation_precision"] == pytest.approx(truth[flagged].mean(), abs=1e-4)
    assert m["validation_recall"] == pytest.approx(flagged[truth].mean(), abs=1e-4)


def test_without_both_labels_on_both_sides_there_is_no_classifier():
    from models.fraud import model as model_lib

    rows = _feature_rows()
    forest = model_lib.train(rows, seed=7, alert_share=0.01)
    labels = pd.Series(np.nan, index=rows.index)
    labels[~rows.attack] = 0.0  # analysts only ever dismissed
    model = model_lib.add_classifier(forest, rows, labels, seed=7)
    assert model.classifier is None and model.threshold == forest.threshold
    assert "too few labels" in model.metrics["classifier_skipped"]
    assert model.card()["stages"] == ["isolation_forest"]


def test_classifier_labels_come_from_decisions_and_quiet_accounts():
    from models.fraud.training import classifier_labels

    rows = _feature_rows().head(600)
    confirmed = rows.account_id.eq("A00") & (rows.index < 100)
    dismissed = rows.account_id.eq("A01") & (rows.index < 100)
    none = pd.Series(False, index=rows.index)
    assert classifier_labels(rows, none, none, {"A00"}).isna().all()  # no decision: nothing labelled
    labels = classifier_labels(rows, confirmed, dismissed, {"A00", "A01", "A02"})
    assert (labels[confirmed] == 1).all() and (labels[dismissed] == 0).all()
    quiet = ~rows.account_id.isin(["A00", "A01", "A02"])
    assert (labels[quiet] == 0).all()  # every quiet row (under the cap) presumed legitimate
    assert labels[rows.account_id.eq("A02")].isna().all()  # alerted, never decided: unlabelled
    assert labels[rows.account_id.eq("A00") & ~confirmed].isna().all()


# --- tollhouse fraud show --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alert_warehouse(tmp_path_factory):
    """A warehouse holding one alert as the fraud models write it: account ACC-00026 raised at 14:51:59 by a
    call whose last hour cost 63.50 EUR against a costliest baseline hour of 4.20 EUR (FR-02 critical), 12 calls
    from an hour before, the first ten costing 1.25 EUR each and the last two 2.25 EUR each."""
    data = tmp_path_factory.mktemp("show")
    path = data / "warehouse" / "tollhouse.duckdb"
    path.parent.mkdir(parents=True)
    con = duckdb.connect(str(path))
    for schema in ("intermediate", "marts", "fraud"):
        con.execute(f"create schema {schema}")
    con.execute(
        """create table intermediate.int_fraud_alerts_triggered as
        select 'FA-0123456789' as alert_id, 'combined' as detector,
        'ACC-00026' as account_id, timestamp '2026-10-12 14:51:59' as raised_at,
        timestamp '2026-10-12 15:30:00' as last_trigger_at, 'call-07' as trigger_call_id, 4 as triggers,
        0.833333 as peak_model_score, ['FR-02', 'FR-03'] as rules_hit, 12 as calls, 17.00 as exposure_eur,
        12.50 as exposure_at_alert_eur, true as within_budget"""
    )
    con.execute(
        """create table marts.fct_fraud_features as select 'call-07' as call_id, 'ACC-00026' as account_id,
        timestamp '2026-10-12 14:51:59' as end_at, 42 as calls_1h, 63.5 as exposure_1h_eur, 9 as concurrent_calls,
        3 as off_hours_calls_1h, 5 as high_risk_calls_1h, 15.119 as exposure_ratio, 3.0 as concurrency_ratio,
        ['FR-02 critical: exposure_ratio 15.119 >= 8', 'FR-03 warning: concurrency_ratio 3.0 >= 2'] as rule_hits"""
    )
    con.execute(
        """create table intermediate.int_accounts_baselined as select 'ACC-00026' as account_id,
        date '2026-10-12' as day, 11 as history_days, 12 as peak_calls, 4.2 as peak_exposure_eur,
        3 as peak_concurrent_calls, 2 as peak_off_hours_calls, 1 as peak_high_risk_calls"""
    )
    con.execute(
        """create table fraud.model_scores as select 'call-07' as call_id, 0.812345 as model_score,
        0.766221 as model_threshold, 'if-d78af3970d2b' as model_version"""
    )
    con.execute(
        """create table intermediate.int_outbound_calls_costed as
        select 'call-' || lpad(i::varchar, 2, '0') as call_id, 'ACC-00026' as account_id,
            timestamp '2026-10-12 13:55:00' + to_minutes(i * 8) as start_at,
            timestamp '2026-10-12 13:55:00' + to_minutes(i * 8 + 3) as end_at,
            '3719000000' || lpad(i::varchar, 2, '0') as b_number, 'LV' as destination_country,
            180 as billable_seconds, cast(case when i < 10 then 1.25 else 2.25 end as decimal(18, 6)) as exposure_eur
        from range(12) as t(i)
        union all  -- another account's call and one of this account's the day before: never shown
        select 'other', 'ACC-00001', timestamp '2026-10-12 14:00:00', timestamp '2026-10-12 14:01:00', '4420',
            'GB', 60, 0.01
        union all
        select 'before', 'ACC-00026', timestamp '2026-10-11 14:00:00', timestamp '2026-10-11 14:01:00', '4420',
            'GB', 60, 0.01"""
    )
    con.execute("create table marts.fct_fraud_alerts as select 'FA-0123456789' as alert_id, 'confirmed' as status")
    con.close()
    return data


def test_fraud_show_says_why_the_alert_fired(alert_warehouse):
    from models.fraud.explain import explain_alert

    con = duckdb.connect(str(alert_warehouse / "warehouse" / "tollhouse.duckdb"), read_only=True)
    text = explain_alert(con, "FA-0123456789", calls=10)
    lines = text.splitlines()
    assert lines[0].startswith("FA-0123456789: account ACC-00026, detector combined, raised 2026-10-12 14:51:59 UTC")
    assert "status: confirmed" in lines[0]
    # the rules with their thresholds (dbt_project.yml's fraud_rules: FR-02 warns at 3, critical at 8)
    assert any(
        line.strip().startswith("FR-02 critical: exposure_ratio 15.119 >= 8   (warning 3, critical 8") for line in lines
    )
    assert any(
        line.strip().startswith("FR-03 warning: concurrency_ratio 3.0 >= 2   (warning 2, critical 4") for line in lines
    )
    assert "score 0.812345 against threshold 0.766221 (anomalous)" in text
    # the features at the trigger against the account's normal
    assert "11 day(s) of baseline before 2026-10-12" in text
    row = next(line for line in lines if line.strip().startswith("exposure of the last hour (EUR)"))
    assert row.split()[-5:] == ["63.5", "normal:", "4.2", "(costliest", "hour)"]
    assert any(
        "calls in the last hour" in line and " 42 " in f" {line} " and "12 (busiest hour)" in line for line in lines
    )
    assert any("calls up at once" in line and "3 (most concurrent hour)" in line for line in lines)
    # the calls: from 13:51:59 (an hour before) to the last trigger: the account's 12, the first 10 shown
    assert "Calls from an hour before the alert to its last trigger: 12, the first 10:" in text
    shown = [line for line in lines if line.startswith("  2026-10-12")]
    assert len(shown) == 10 and shown[0].split()[:5] == [
        "2026-10-12",
        "13:55:00",
        "2026-10-12",
        "13:58:00",
        "371900000000",
    ]
    assert all(line.split()[-1] == "1.25" for line in shown)
    assert "Exposure: 12.50 EUR in the hour up to the alert; 17.00 EUR so far over 12 call(s)." in text


def test_fraud_show_on_the_command_line_and_an_unknown_alert(alert_warehouse, monkeypatch, capsys):
    from orchestration.cli import main

    monkeypatch.setenv("TOLLHOUSE_DATA_DIR", str(alert_warehouse))
    assert main(["fraud", "show", "FA-0123456789", "--calls", "3"]) == 0
    out = capsys.readouterr().out
    assert "FR-02 critical" in out and "the first 3:" in out
    assert main(["fraud", "show", "FA-nothing"]) == 2
    assert "no fraud alert FA-nothing in the warehouse" in capsys.readouterr().out


def test_the_evaluation_reports_the_lift_over_the_rules():
    from models.fraud.evaluation import DetectorResult, _lift

    def result(detector, delays, alerts, true_alerts):
        table = pd.DataFrame(
            {
                "incident_id": ["FRAUD-001", "FRAUD-002", "FRAUD-003"],
                "kind": ["irsf", "sim_box", "slow_persistent"],
                "alert_id": [None if d is None else f"FA-{i}" for i, d in enumerate(delays)],
                "delay_min": [np.nan if d is None else d for d in delays],
            }
        )
        found = [d for d in delays if d is not None]
        median = float(np.median(found)) if found else None
        precision, recall = true_alerts / alerts, len(found) / 3
        return DetectorResult(
            detector, 30, alerts, true_alerts, 3, len(found), precision, recall, 0.5, 2, median, None, None, table
        )

    rules = result("rules", [10.0, None, None], 4, 2)  # precision 50 %
    model = result("model", [20.0, 40.0, None], 5, 4)  # 80 %
    combined = result("combined", [10.0, 40.0, 100.0], 8, 6)  # 75 %
    lines = _lift([rules, model, combined])
    assert "| model | 2 (+1) | 1: FRAUD-002 | 0: - | 80% (+30 points) | 30.0 (+20.0) |" in lines
    assert "| combined | 3 (+2) | 2: FRAUD-002, FRAUD-003 | 0: - | 75% (+25 points) | 40.0 (+30.0) |" in lines
    assert "| FRAUD-003 | slow_persistent | - | - | 100.0 |" in lines
