"""Mediation against hostile input: partials re-sent under new record ids, record ids two switches share,
numbers that are not counts of seconds, withheld callers written twice, calls dated far from their file,
and a switches reference with two configurations valid at once. One small warehouse, loaded and mediated
a day at a time (the `dbt build` of the mediation marts with the day's vars that Dagster's daily assets run,
then the serving snapshot), holds every scenario; they use distinct numbers, times and switches so they do
not interfere. Expected values are worked out by hand."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.ingestion.layouts import SOURCES
from orchestration.ingestion.load import ingest_days
from orchestration.serving.publish import publish
from orchestration.settings import Paths, delivery_range_env, run_dbt
from orchestration.warehouse import connect
from tests.conftest import land
from tests.test_mediation import (
    ACCOUNTS,
    ASSIGNMENTS_HEADER,
    CARRIER_HEADER,
    MEDIATION_MARTS,
    OWNERS,
    SELECTED_TESTS,
    SWITCHES,
    asterisk,
    freeswitch,
    query,
)
from tests.worlds import data_folder

pytestmark = pytest.mark.integration

DAY1, DAY2 = "2026-10-01", "2026-10-02"

# a second Asterisk (its uniqueids are per server, like ast-lon1's), and fs-ber2 with two configurations
# valid at once from 2026-09-01 (lines 6 and 7 of the file; line 1 is the header)
SWITCHES_HOSTILE = (
    SWITCHES
    + "ast-lon2,asterisk,Europe/London,GB,44,0,00,cdr_csv_18,2024-01-01,\n"
    + "fs-ber2,freeswitch,Europe/Berlin,DE,49,0,00,example,2024-01-01,\n"
    + "fs-ber2,freeswitch,Europe/Paris,DE,49,0,00,example,2026-09-01,\n"
)
OWNERS_HOSTILE = OWNERS + "trunk,lon-tr-2,ast-lon2,ACC-1,2024-01-01,\ntrunk,ber-tr-2,fs-ber2,ACC-2,2024-01-01,\n"


def carrier(
    record_id: str,
    record_type: str,
    call_ref: str,
    seq: str,
    last: str,
    start: str,
    answer: str,
    end: str,
    duration: str,
    billable: str,
    cause: str = "",
) -> str:
    """A carrier CSV line (times are UTC hh:mm:ss on 2026-10-01)."""

    def at(t: str) -> str:
        return f"2026-10-01T{t}Z" if t else ""

    return (
        f"{record_id},{record_type},{call_ref},{seq},{last},nyc-tr-1,+12125550100,011442071234567,"
        f"{at(start)},{at(answer)},{at(end)},{duration},{billable},{cause},RT1"
    )


def ast(uid: str, start: str, end: str, duration, billsec, dst: str, **kw) -> str:
    """An answered Asterisk call answered at its start (billsec = duration unless given otherwise)."""
    return asterisk(uid, start, start, end, duration, billsec, dst=dst, **kw)


DAY1_ASTERISK = [
    # defect 3: ast-lon2 issues the same uniqueid for another call; ast-lon1b (a second backend of ast-lon1)
    # repeats ast-lon1's record
    asterisk("same.1", "2026-10-01 12:00:00", "2026-10-01 12:00:05", "2026-10-01 12:01:05", 65, 60),
    # defect 6: a withheld caller written twice 2 s apart, and the same parties 10 minutes later (a new call)
    asterisk("w.1", "2026-10-01 12:20:00", "2026-10-01 12:20:05", "2026-10-01 12:21:05", 65, 60,
             src="", dst="07700900555"),
    asterisk("w.2", "2026-10-01 12:20:02", "2026-10-01 12:20:07", "2026-10-01 12:21:07", 65, 60,
             src="", dst="07700900555"),
    asterisk("w.3", "2026-10-01 12:30:00", "2026-10-01 12:30:05", "2026-10-01 12:31:05", 65, 60,
             src="", dst="07700900555"),
    # defect 4: counts of seconds that are not digits (each span agrees with what try_cast made of them)
    ast("n.1", "2026-10-01 12:40:00", "2026-10-01 12:40:11", "10.5", "10.5", "07700900601"),
    ast("n.2", "2026-10-01 12:41:00", "2026-10-01 12:41:16", "0x10", "0x10", "07700900602"),
    ast("n.3", "2026-10-01 12:42:00", "2026-10-01 12:42:10", "1e1", "1e1", "07700900603"),
    ast("n.4", "2026-10-01 12:43:00", "2026-10-01 12:43:10", "10", "1_0", "07700900604"),
    ast("n.ok", "2026-10-01 12:44:00", "2026-10-01 12:44:10", "10", "10", "07700900605"),
    # defect 10: far future, far past, and the edges of the window (London is UTC+1 in October)
    ast("f.1", "2099-10-01 12:00:00", "2099-10-01 12:01:00", 60, 60, "07700900701"),
    ast("o.1", "2026-07-01 12:00:00", "2026-07-01 12:01:00", 60, 60, "07700900702"),
    ast("o.2", "2026-08-03 12:00:00", "2026-08-03 12:01:00", 60, 60, "07700900703"),  # 59 days before
    ast("e.2", "2026-10-03 00:30:00", "2026-10-03 00:31:00", 60, 60, "07700900704"),  # 2026-10-02 23:30 UTC
    ast("e.3", "2026-10-03 01:30:00", "2026-10-03 01:31:00", 60, 60, "07700900705"),  # 2026-10-03 00:30 UTC
    # a clock three days ahead (2026-10-04 11:00 UTC recorded): held until the NOC's correction of day 2 lands
    ast("c.1", "2026-10-04 12:00:00", "2026-10-04 12:01:00", 60, 60, "07700900706"),
]  # fmt: skip

# the NOC reports on day 2 that ast-lon1's clock ran three days (259,200 s) ahead for two hours of 1 October
CLOCK_CORRECTIONS = (
    "switch_id,valid_from_utc,valid_to_utc,offset_seconds,note\n"
    "ast-lon1,2026-10-01T10:00:00Z,2026-10-01T12:00:00Z,259200,clock three days ahead\n"
)

DAY1_CARRIER = [
    # defect 2: a 905 s call in two partials (600 + 300 billable); its part 1 is re-sent on day 2
    carrier("R10", "partial", "REF2", "1", "0", "10:00:00", "10:00:05", "10:10:05", "605", "600"),
    carrier("R11", "partial", "REF2", "2", "1", "10:10:05", "10:10:05", "10:15:05", "300", "300", "16"),
    # a 720 s call whose part 1 is re-sent on day 2 with other content: the first delivered wins
    carrier("R20", "partial", "REF3", "1", "0", "10:20:00", "10:20:00", "10:30:00", "600", "600"),
    carrier("R21", "partial", "REF3", "2", "1", "10:30:00", "10:30:00", "10:32:00", "120", "120", "16"),
    # parts that overlap: 900 billable seconds in a 600 s call
    carrier("R30", "partial", "REF4", "1", "0", "11:00:00", "11:00:00", "11:10:00", "600", "600"),
    carrier("R31", "partial", "REF4", "2", "1", "11:05:00", "11:05:00", "11:10:00", "300", "300", "16"),
    # defect 4 on the carrier's numeric fields
    carrier("C1", "complete", "", "", "", "10:40:00", "10:40:00", "10:41:00", "6e1", "60", "16"),
    carrier("R40", "partial", "REF5", "1.0", "1", "10:50:00", "10:50:00", "10:51:00", "60", "60", "16"),
]

DAY2_CARRIER = [
    carrier("R10b", "partial", "REF2", "1", "0", "10:00:00", "10:00:05", "10:10:05", "605", "600"),
    carrier("R20b", "partial", "REF3", "1", "0", "10:20:00", "10:20:10", "10:30:00", "600", "590"),
]


def land_scenarios(paths: Paths, switches: str = SWITCHES_HOSTILE) -> None:
    land(paths, "network", DAY1, "switches.csv", switches.encode())
    land(paths, "crm", DAY1, "accounts.csv", ACCOUNTS.encode())
    land(paths, "crm", DAY1, "service_assignments.csv", (ASSIGNMENTS_HEADER + OWNERS_HOSTILE).encode())
    land(paths, "asterisk", DAY1, "ast-lon1_20261001T11Z.csv", ("\n".join(DAY1_ASTERISK) + "\n").encode())
    land(paths, "asterisk", DAY1, "ast-lon1b_20261001T11Z.csv", (DAY1_ASTERISK[0] + "\n").encode())
    other = asterisk("same.1", "2026-10-01 12:05:00", "2026-10-01 12:05:05", "2026-10-01 12:06:05", 65, 60,
                     dst="07700900777", channel="SIP/lon-tr-2-0000001a")  # fmt: skip
    land(paths, "asterisk", DAY1, "ast-lon2_20261001T11Z.csv", f"{other}\n".encode())
    fs = [
        freeswitch("u.ok", "2026-10-01 12:00:00", "2026-10-01 12:00:00", "2026-10-01 12:00:10", 10, 10),
        freeswitch("u.bad", "2026-10-01 12:10:00", "2026-10-01 12:10:00", "2026-10-01 12:10:10", 10, "1e1"),
    ]
    land(paths, "freeswitch", DAY1, "fs-ber1_20261001T10Z.csv", ("\n".join(fs) + "\n").encode())
    fs2 = freeswitch("v.1", "2026-10-01 12:00:00", "2026-10-01 12:00:00", "2026-10-01 12:00:10", 10, 10,
                     trunk="ber-tr-2")  # fmt: skip
    land(paths, "freeswitch", DAY1, "fs-ber2_20261001T10Z.csv", f"{fs2}\n".encode())
    land(
        paths, "carrier", DAY1, "car-nyc1_20261001T10Z.csv", (CARRIER_HEADER + "\n".join(DAY1_CARRIER) + "\n").encode()
    )
    land(paths, "carrier", DAY2, "car-nyc1_20261001T10Z_resent.csv",
         (CARRIER_HEADER + "\n".join(DAY2_CARRIER) + "\n").encode())  # fmt: skip
    land(paths, "network", DAY2, "clock_corrections.csv", CLOCK_CORRECTIONS.encode())


# what fct_suspense held after each day's run (the module's fixture fills it)
HELD: dict[str, list] = {}


def mediate_day(paths: Paths, day: str) -> dict[str, str]:
    """Load the delivery day, build the mediation marts (and the rated calls) for it and publish the snapshot.
    Returns every data test of the build that did not pass, by name, with its status."""
    d = date.fromisoformat(day)
    with connect(paths.warehouse) as con:
        for source in SOURCES:
            ingest_days(con, paths.landing, source, [d])
    done = run_dbt(
        paths.data, "build", "--select", *MEDIATION_MARTS, "+fct_rated_calls", "+stg_network__reference_errors",
        *SELECTED_TESTS,
        env=delivery_range_env(day, day),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    results = json.loads((paths.data / "dbt_target" / "run_results.json").read_text())["results"]
    with connect(paths.warehouse, read_only=True) as con:
        publish(con, paths)
    return {
        r["unique_id"].split(".")[2]: r["status"]
        for r in results
        if r["unique_id"].startswith("test.") and r["status"] != "pass"
    }


@pytest.fixture(scope="module")
def hostile():
    """The warehouse after day 1 and day 2 were each loaded and mediated in a run of its own."""
    with data_folder("hostile") as paths:  # on tmpfs
        land_scenarios(paths)
        checks = []
        for day in (DAY1, DAY2):
            checks.append(mediate_day(paths, day))
            HELD[day] = query(paths, "select call_id, reason, age_days from marts.fct_suspense order by call_id")
        yield paths, checks


def rejects(paths) -> dict[str, tuple]:
    return {
        key: tuple(rest)
        for key, *rest in query(
            paths,
            "select record_key, stage, reason, coalesce(detail, ''), coalesce(duplicate_of, '') "
            "from marts.fct_mediation_rejects",
        )
    }


def calls(paths) -> dict[str, tuple]:
    return {
        call_id: tuple(rest)
        for call_id, *rest in query(paths, "select call_id, billable_seconds, duration_seconds from marts.fct_calls")
    }


def test_partial_resent_under_a_new_record_id_is_a_duplicate_and_the_call_billed_once(hostile):
    paths, _ = hostile
    assert query(
        paths,
        "select record_count, assembly, start_at::varchar, answer_at::varchar, end_at::varchar, "
        "billable_seconds, duration_seconds from marts.fct_calls where call_id = 'car-nyc1:REF2'",
    ) == [(2, "assembled", "2026-10-01 10:00:00", "2026-10-01 10:00:05", "2026-10-01 10:15:05", 900, 905)]
    assert rejects(paths)["R10b"] == ("deduplication", "duplicate_record", "", "car-nyc1:REF2")


def test_conflicting_resend_of_a_partial_first_delivered_wins(hostile):
    paths, _ = hostile
    assert calls(paths)["car-nyc1:REF3"] == (720, 720)  # 600 + 120, not 590 + 120
    assert rejects(paths)["R20b"] == ("deduplication", "conflicting_duplicate", "", "car-nyc1:REF3")


def test_assembled_call_never_bills_more_than_its_duration(hostile):
    paths, _ = hostile
    assert "car-nyc1:REF4" not in calls(paths)
    found = rejects(paths)
    assert [found["R30"][:2], found["R31"][:2]] == [("validation", "billsec_gt_duration")] * 2
    assert query(paths, "select count(*) from marts.fct_suspense where call_id = 'car-nyc1:REF4'") == [(0,)]


def test_same_record_id_on_two_switches_is_two_calls_and_a_second_backend_still_dedupes(hostile):
    paths, _ = hostile
    found = calls(paths)
    assert found["ast-lon1:same.1"] == (60, 65)
    assert found["ast-lon2:same.1"] == (60, 65)
    dup = query(
        paths,
        "select r.reason, r.duplicate_of, a.path from marts.fct_mediation_rejects as r "
        "join raw.load_audit as a using (file_id) where r.record_key = 'same.1'",
    )
    assert dup == [("duplicate_record", "ast-lon1:same.1", "asterisk/2026-10-01/ast-lon1b_20261001T11Z.csv")]


def test_numbers_that_are_not_digits_are_rejected_naming_the_field(hostile):
    paths, _ = hostile
    found = rejects(paths)
    assert {k: found[k][:3] for k in ("n.1", "n.2", "n.3", "n.4", "u.bad", "C1", "R40")} == {
        "n.1": ("validation", "invalid_number_field", "duration=10.5"),
        "n.2": ("validation", "invalid_number_field", "duration=0x10"),
        "n.3": ("validation", "invalid_number_field", "duration=1e1"),
        "n.4": ("validation", "invalid_number_field", "billsec=1_0"),
        "u.bad": ("validation", "invalid_number_field", "billsec=1e1"),
        "C1": ("validation", "invalid_number_field", "duration_s=6e1"),
        "R40": ("validation", "invalid_number_field", "partial_seq=1.0"),
    }
    assert calls(paths)["ast-lon1:n.ok"] == (10, 10)
    assert calls(paths)["fs-ber1:u.ok"] == (10, 10)


def test_withheld_caller_written_twice_is_a_near_duplicate(hostile):
    paths, _ = hostile
    found = calls(paths)
    assert found["ast-lon1:w.1"] == (60, 65) and found["ast-lon1:w.3"] == (60, 65)
    assert "ast-lon1:w.2" not in found
    assert rejects(paths)["w.2"] == ("deduplication", "near_duplicate", "", "ast-lon1:w.1")


def test_calls_dated_far_from_their_delivery_day_are_held_in_suspense_not_priced(hostile):
    paths, _ = hostile
    held = ("ast-lon1:e.3", "ast-lon1:f.1", "ast-lon1:o.1")
    # day 1: the far future, the far past, just after the window, and the call of the clock a year ahead
    assert HELD[DAY1] == [(c, "start_out_of_window", 0) for c in ("ast-lon1:c.1", *held)]
    # day 2 re-evaluates them: still held, a delivery day older
    assert HELD[DAY2] == [(c, "start_out_of_window", 1) for c in held]
    assert query(
        paths,
        "select call_id, start_at::varchar, held_since::varchar from marts.fct_suspense order by call_id",
    ) == [
        ("ast-lon1:e.3", "2026-10-03 00:30:00", "2026-10-01"),
        ("ast-lon1:f.1", "2099-10-01 11:00:00", "2026-10-01"),
        ("ast-lon1:o.1", "2026-07-01 11:00:00", "2026-10-01"),
    ]
    found = rejects(paths)
    assert not {"f.1", "o.1", "e.3", "c.1"} & found.keys()
    assert not set(held) & calls(paths).keys()
    priced = query(paths, "select count(*) from marts.fct_rated_calls where call_id in " + str(held))
    assert priced == [(0,)]
    conserved = query(
        paths,
        "select sum(c.suspended), sum(c.rejected) from marts.rpt_mediation_conservation as c "
        "join raw.load_audit as a using (file_id) where a.path = 'asterisk/2026-10-01/ast-lon1_20261001T11Z.csv'",
    )
    assert conserved == [(3, 4)]  # n.1 to n.4 are the file's only rejects
    accepted = query(
        paths,
        "select call_id, start_at::varchar from marts.fct_calls where call_id in ('ast-lon1:o.2', 'ast-lon1:e.2') "
        "order by call_id",
    )
    assert accepted == [("ast-lon1:e.2", "2026-10-02 23:30:00"), ("ast-lon1:o.2", "2026-08-03 11:00:00")]
    # the snapshot's "data through" is the latest mediated call's start, never a held one's
    assert query(paths, "select max(start_at)::varchar from marts.fct_calls") == [("2026-10-02 23:30:00",)]
    current = (paths.serving / "CURRENT").read_text()
    manifest = json.loads((paths.serving / "snapshots" / current / "manifest.json").read_text())
    assert manifest["data_through"] == "2026-10-02 23:30"


def test_clock_correction_delivered_later_releases_a_call_held_for_its_time(hostile):
    paths, _ = hostile
    assert query(
        paths,
        "select call_id, start_at::varchar, is_clock_corrected, delivery_date::varchar, mediated_on::varchar, "
        "billable_seconds from marts.fct_calls where call_id = 'ast-lon1:c.1'",
    ) == [("ast-lon1:c.1", "2026-10-01 11:00:00", True, "2026-10-01", "2026-10-02", 60)]
    assert query(paths, "select count(*) from marts.fct_suspense where call_id = 'ast-lon1:c.1'") == [(0,)]


def test_overlapping_switch_configurations_are_named_and_only_that_switch_waits(hostile):
    paths, checks = hostile
    assert query(
        paths,
        "select source_path, line_no, key, rule from staging.stg_network__reference_errors",
    ) == [("network/2026-10-01/switches.csv", 7, "fs-ber2", "overlapping_validity")]
    found = rejects(paths)
    assert found["v.1"][:2] == ("validation", "ambiguous_switch_config")
    assert "fs-ber1:u.ok" in calls(paths)
    # the check warns on every run while the reference is wrong; nothing else fails
    assert checks == [{"expect_no_rows_stg_network__reference_errors_": "warn"}] * 2, checks


def test_every_record_is_accounted_for(hostile):
    paths, _ = hostile
    assert query(
        paths,
        "select sum(records_in), sum(calls_out), sum(partials_merged), sum(duplicates), sum(rejected), "
        "sum(suspended), sum(records_unaccounted), sum(calls_unmatched) from marts.rpt_mediation_conservation",
    ) == [(30, 11, 2, 4, 10, 3, 0, 0)]


# digits, or a minus and digits: a number (negatives are then rejected as negative_or_absurd_duration)
NUMBER = re.compile(r"-?[0-9]{1,9}")


@pytest.fixture(scope="module")
def staging_copy(hostile, tmp_path_factory):
    """A copy of the warehouse whose raw Asterisk table the property test writes into."""
    paths, _ = hostile
    target = tmp_path_factory.mktemp("copy") / "warehouse.duckdb"
    shutil.copy(paths.warehouse, target)
    with duckdb.connect() as con:
        # dbt's views name the warehouse's catalog: attach the copy under that name
        con.execute(f"attach '{target}' as {paths.warehouse.stem}")
        con.execute(f"use {paths.warehouse.stem}")
        yield con


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789", min_size=1, max_size=12),
            st.text(alphabet="0123456789.-+_xXeE ,", max_size=8),
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6),
            st.sampled_from(["10.5", "0x10", "1e1", "1_0", " 10", "10 ", "+10", "-0", "--1", "-", "٣", "１０", "0010"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_property_only_digits_in_range_are_read_as_seconds(staging_copy, texts):
    con = staging_copy
    con.execute("delete from raw.asterisk__cdr where file_id = 'property'")
    con.executemany(
        "insert into raw.asterisk__cdr (file_id, line_no, n_fields, duration, billsec) "
        "values ('property', ?, 18, ?, '0')",
        [(i + 1, t) for i, t in enumerate(texts)],
    )
    got = dict(
        (line, (seconds, fault))
        for line, seconds, fault in con.execute(
            "select line_no, duration_s, number_fault from staging.stg_asterisk__cdrs where file_id = 'property'"
        ).fetchall()
    )
    for i, text in enumerate(texts):
        seconds, fault = got[i + 1]
        if text == "":  # an empty field is a missing count (negative_or_absurd_duration), not a bad one
            assert (seconds, fault) == (None, None)
        elif NUMBER.fullmatch(text):
            assert (seconds, fault) == (int(text), None), text
        else:
            assert seconds is None, text
            assert fault == f"duration={text}", text
