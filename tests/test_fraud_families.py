"""The held-out fraud kinds have the shape they claim (simulator only: no pipeline), the held-out mix is
deterministic and leaves the training mix as it was; the supervised alert model trains on labelled rows only
and is judged on rows it never saw; `tollhouse fraud show` explains an alert.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.simulator import SimulationConfig, simulate
from orchestration.simulator.fraud import HOLDOUT_KINDS, MIXES

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
        channels, ordered = (int(w) for w in np.array(r.detail.split())[[0, 5]])
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
    from orchestration.simulator.numbering import RATE_PREFIXES

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
