"""The whole pipeline on a small simulated operator, through real Dagster runs: every ingestion-level fault
the simulator injected is found with the expected reason, and no line is lost anywhere."""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.pipeline.runs import build_models, failed_checks, landed_days, load_days
from tests.worlds import data_folder, simulated
from tools.simulator import SimulationConfig
from tools.simulator.scoring import call_accuracy, ingestion_scorecard, mediation_scorecard, rating_scorecard

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loaded():
    with data_folder("pipeline") as paths:
        simulated(paths.data, SimulationConfig(seed=9, accounts=12, calls_per_day=1000))
        days = landed_days(paths)
        load = load_days(paths, days[0], days[-1])
        build = build_models(paths, days[0], days[-1])
        yield paths, load, build


def test_every_ingestion_fault_found_with_its_reason(loaded):
    paths, load, _ = loaded
    assert load.success
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        card = ingestion_scorecard(con, paths.ground_truth)
        kinds = {kind for kind, *_ in card}
        assert {"malformed_line", "truncated_line", "unescaped_quote", "encoding_error", "blank_line",
                "corrupt_gzip", "unknown_layout", "redelivered_file"} <= kinds  # fmt: skip
        assert [(k, e, n) for k, e, n, found in card if found != n] == []
        # and nothing else was rejected: every reject is an injected fault
        injected_lines = sum(n for _, effect, n, _ in card if effect.startswith("reject:"))
        assert con.execute("select count(*) from raw.rejects").fetchone() == (injected_lines,)


def test_no_line_lost_and_checks_say_what_happened(loaded):
    paths, load, build = loaded
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute(
            "select count(*) from marts.rpt_ingestion_daily where lines_unaccounted <> 0"
        ).fetchone() == (0,)
        quarantined_sources = {r[0] for r in con.execute(
            "select distinct source from raw.load_audit where status = 'quarantined'"
        ).fetchall()}  # fmt: skip
    assert build.success and failed_checks(build) == []
    # the quarantine check fails loudly for exactly the sources that had an unreadable file
    assert sorted(failed_checks(load)) == sorted(f"raw/{s}:no_quarantined_files" for s in quarantined_sources)
    assert not [c for c in failed_checks(load) if c.endswith("lines_conserved")]


def test_reloading_the_whole_range_is_idempotent(loaded):
    paths, _, _ = loaded

    def contents():
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            return (
                con.execute(
                    "select count(*), sum(hash(file_id, line_no, src, dst, billsec)) from raw.asterisk__cdr"
                ).fetchone(),
                con.execute("select count(*), sum(hash(file_id, line_no)) from raw.carrier__cdr").fetchone(),
                con.execute("select count(*), sum(hash(file_id, line_no, reason)) from raw.rejects").fetchone(),
                con.execute("select status, count(*) from raw.load_audit group by 1 order by 1").fetchall(),
            )

    before = contents()
    days = landed_days(paths)
    assert load_days(paths, days[0], days[-1]).success
    assert contents() == before


def test_every_mediation_fault_found_and_no_call_lost(loaded):
    paths, _, build = loaded
    assert build.success and failed_checks(build) == []
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        card = mediation_scorecard(con, paths.ground_truth)
        owned = {"backend_duplicate", "near_duplicate", "unknown_trunk", "late_assignment", "clock_skew",
                 "dst_ambiguous", "late_file"}  # fmt: skip
        assert {kind for kind, *_ in card} >= owned
        assert [(k, e, n) for k, e, n, found in card if found != n] == []
        accuracy = call_accuracy(con, paths.ground_truth)
        # nothing merged away or dropped: a true call is a call, held in suspense, or its line was rejected
        assert accuracy["lost"] == 0
        assert (
            accuracy["mediated"] + accuracy["suspended"] + accuracy["rejected_at_ingestion"] == accuracy["true_calls"]
        )
        # only rejects and duplicates the simulator injected: no genuine record rejected by a mediation rule
        assert con.execute(
            "select count(*) from marts.fct_mediation_rejects where stage = 'validation'"
        ).fetchone() == (0,)
        assert {k: v for k, v in accuracy.items() if k.startswith("wrong_") and k != "wrong_times" and v} == {}
        # The NOC reports a clock fault as a window of true time; in the hour after the clock was put back, a
        # recorded time can be a skewed call or a genuine one, and mediation reads it as skewed. Those genuine
        # calls, and only they, come out an hour early.
        event = json.loads((paths.ground_truth / "manifest.json").read_text())["events"]["clock_skew"]
        (ambiguous,) = con.execute(
            """select count(*) from read_parquet(?) where switch_id::varchar = ?
               and start_at >= ?::timestamptz and start_at < ?::timestamptz + to_seconds(?)""",
            [str(paths.ground_truth / "calls.parquet"), event["switch_id"], event["to_utc"], event["to_utc"],
             event["offset_seconds"]],
        ).fetchone()  # fmt: skip
        assert accuracy["wrong_times"] == ambiguous


def test_mediation_conserves_every_record_and_rebuilds_identically(loaded):
    paths, _, _ = loaded

    def calls():
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            return con.execute(
                """select (select (count(*), sum(hash(call_id, account_id, start_at, end_at, billable_seconds)))
                           from marts.fct_calls),
                          (select (count(*), sum(hash(call_id, reason))) from marts.fct_suspense),
                          (select (count(*), sum(hash(file_id, line_no, reason, duplicate_of)))
                           from marts.fct_mediation_rejects),
                          (select (count(*), sum(hash(call_id, cost, matched_prefix, pieces, vendor_cost, margin)))
                           from marts.fct_rated_calls),
                          (select (count(*), sum(hash(call_id, reason))) from marts.fct_rating_suspense)"""
            ).fetchone()

    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        (raw,) = con.execute(
            "select (select count(*) from raw.asterisk__cdr) + (select count(*) from raw.freeswitch__cdr)"
            " + (select count(*) from raw.carrier__cdr)"
        ).fetchone()
        assert con.execute(
            "select sum(records_in), sum(abs(records_unaccounted)), sum(abs(calls_unmatched)) "
            "from marts.rpt_mediation_conservation"
        ).fetchone() == (raw, 0, 0)
    before = calls()
    days = landed_days(paths)
    assert build_models(paths, days[0], days[-1], full_refresh=True).success
    assert calls() == before
    # re-loading one delivery day and mediating (and rating) only that day's partition changes nothing either
    day = days[9]
    assert load_days(paths, day, day).success
    assert build_models(paths, day, day).success
    assert calls() == before


def test_every_mediated_call_is_priced_or_held_with_a_reason(loaded):
    paths, _, _ = loaded
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        calls, rated, held = con.execute(
            """select (select count(*) from marts.fct_calls), (select count(*) from marts.fct_rated_calls),
                      (select count(*) from marts.fct_rating_suspense)"""
        ).fetchone()
        assert calls == rated + held and rated > 0.95 * calls
        # nothing priced below zero, nothing without billable seconds priced above it, no held call priced
        assert con.execute(
            """select count(*) filter (where cost < 0 or (billable_seconds = 0 and cost <> 0)),
                      count(*) filter (where billed_seconds < billable_seconds)
               from marts.fct_rated_calls"""
        ).fetchone() == (0, 0)
        assert con.execute("select count(*) from intermediate.int_tariff_errors_found").fetchone() == (0,)


def test_outbound_calls_carry_vendor_cost_and_margin_and_rating_faults_are_found(loaded):
    paths, _, _ = loaded
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        # every answered outbound call has a vendor cost or a reason in fct_cost_suspense, once
        outbound, costed, held = con.execute(
            """select count(*), count(vendor_cost),
                      (select count(*) from marts.fct_cost_suspense)
               from marts.fct_rated_calls where direction = 'outbound' and billable_seconds > 0"""
        ).fetchone()
        assert outbound > 0 and costed + held >= outbound and costed > 0.95 * outbound
        # the route: from the record (Asterisk's called channel, the carrier's column) or the switch's only one
        assert dict(con.execute(
            """select c.source, count(*) filter (where q.route_found_by is null)
            from intermediate.int_rating_requests_selected q
               join marts.fct_calls c using (call_id) where q.deck = 'vendor' group by 1"""
        ).fetchall()) == {"asterisk": 0, "carrier": 0, "freeswitch": 0}  # fmt: skip
        # margin = revenue - vendor cost in the call's currency, to the cent of every call
        assert con.execute(
            """select count(*) from marts.fct_rated_calls
               where margin is distinct from cost - vendor_cost_in_currency
                  or (vendor_currency = currency and vendor_cost_in_currency <> vendor_cost)"""
        ).fetchone() == (0,)
        card = rating_scorecard(con, paths.ground_truth)
    assert [(kind, injected, found) for kind, _, injected, found in card] == [
        ("missing_destination", card[0][2], card[0][2]),
        ("mispriced_rate", 1, 1),
        ("negative_margin", 1, 1),
    ]
    assert card[0][2] > 0
