"""Mediation rules on hand-made switch files: each scenario lands files, loads them and mediates their
delivery days with the `dbt build` (the days' vars) that Dagster's daily assets run, of the mediation marts
and what they are built from, then reads the marts. Expected values are worked out by hand in each test.
Dagster's own runs of a day are tested in test_dagster.py."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import duckdb
import pytest

from orchestration.ingestion.layouts import SOURCES
from orchestration.ingestion.load import ingest_days
from orchestration.settings import delivery_range_env, run_dbt
from orchestration.warehouse import connect
from tests.conftest import REALDATA, land
from tests.worlds import data_folder

pytestmark = pytest.mark.integration


@pytest.fixture
def paths():
    """Each scenario's data folder on tmpfs: dbt rewrites its small warehouse many times over."""
    with data_folder("mediation") as folder:
        yield folder


SWITCHES = (
    "switch_id,source,timezone,country_code,country_calling_code,national_prefix,international_prefix,"
    "format_variant,valid_from,valid_to\n"
    "ast-lon1,asterisk,Europe/London,GB,44,0,00,cdr_csv_18,2024-01-01,\n"
    "fs-ber1,freeswitch,Europe/Berlin,DE,49,0,00,example,2024-01-01,\n"
    "car-nyc1,carrier,UTC,US,1,1,011,v1,2024-01-01,\n"
)
ASSIGNMENTS_HEADER = "identifier_type,identifier,switch_id,account_id,valid_from,valid_to\n"
ACCOUNTS = (
    "account_id,account_name,country_code,currency,timezone,billing_email,address_line1,city,postcode,"
    "created_date,status\n"
    "ACC-1,One Ltd,GB,GBP,Europe/London,a@x.example,1 St,London,N1,2024-01-01,active\n"
    "ACC-2,Zwei GmbH,DE,EUR,Europe/Berlin,b@x.example,2 Str,Berlin,10115,2024-01-01,active\n"
    "ACC-3,Three Inc,US,USD,America/New_York,c@x.example,3 Ave,New York,10001,2024-01-01,active\n"
)
OWNERS = (
    "trunk,lon-tr-1,ast-lon1,ACC-1,2024-01-01,\n"
    "trunk,ber-tr-1,fs-ber1,ACC-2,2024-01-01,\n"
    "trunk,nyc-tr-1,car-nyc1,ACC-3,2024-01-01,\n"
    "did,18005550100,car-nyc1,ACC-3,2024-01-01,\n"
)


def asterisk(
    uid: str,
    start: str,
    answer: str,
    end: str,
    duration: int,
    billsec: int,
    dst: str = "07700900123",
    src: str = "02071234567",
    channel: str = "SIP/lon-tr-1-0000001a",
    context: str = "from-customer",
    disposition: str = "ANSWERED",
) -> str:
    """An 18-column Asterisk cdr_csv line."""
    answered = f'"{answer}"' if answer else ""
    return (
        f'"","{src}","{dst}","{context}","""Ann"" <{src}>","{channel}","SIP/route-0000001b","Dial","SIP/route/{dst}",'
        f'"{start}",{answered},"{end}",{duration},{billsec},"{disposition}","DOCUMENTATION","{uid}",""'
    )


def freeswitch(
    uuid: str,
    start: str,
    answer: str,
    end: str,
    duration: int,
    billsec: int,
    dst: str = "03012345678",
    cause: str = "NORMAL_CLEARING",
    trunk: str = "ber-tr-1",
) -> str:
    """A 15-column FreeSWITCH mod_cdr_csv `example` line."""
    fields = [
        "Jo",
        "03098765432",
        dst,
        "default",
        start,
        answer,
        end,
        str(duration),
        str(billsec),
        cause,
        uuid,
        "b-" + uuid,
        trunk,
        "PCMA",
        "PCMA",
    ]
    return ",".join(f'"{f}"' for f in fields)


CARRIER_HEADER = (
    "record_id,record_type,call_ref,partial_seq,is_last_partial,trunk_id,calling_number,called_number,"
    "start_time_utc,answer_time_utc,end_time_utc,duration_s,billable_s,release_cause,route_id\n"
)


def reference(paths, day: str = "2026-10-01", owners: str = OWNERS) -> None:
    land(paths, "network", day, "switches.csv", SWITCHES.encode())
    land(paths, "crm", day, "accounts.csv", ACCOUNTS.encode())
    land(paths, "crm", day, "service_assignments.csv", (ASSIGNMENTS_HEADER + owners).encode())


# The marts these scenarios read, built with everything they are built from, not the whole project: rating,
# billing and the controls have suites of their own. The accounts let fct_calls' relationship test run; a test
# that needs a model left out (cautious selection) runs where that model is built.
MEDIATION_MARTS = ("+fct_calls", "+fct_mediation_rejects", "+fct_suspense", "+rpt_mediation_conservation",
                   "+stg_crm__accounts")  # fmt: skip
SELECTED_TESTS = ("--indirect-selection", "cautious", "--exclude", "test_type:unit")


def load_and_build(paths, days: list[str], select=MEDIATION_MARTS) -> None:
    """Raw ingestion of every source for the delivery days `days[0]`..`days[-1]` in this process, then the
    mediation of those days' partition range: the `dbt build` of Dagster's daily assets, the days in its
    environment, of the models `select` names (dbt unit tests run once, elsewhere)."""
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    with connect(paths.warehouse) as con:
        for source in SOURCES:
            ingest_days(con, paths.landing, source, [first + timedelta(d) for d in range((last - first).days + 1)])
    done = run_dbt(
        paths.data, "build", "--select", *select, *SELECTED_TESTS,
        env=delivery_range_env(days[0], days[-1]),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]


def query(paths, sql: str) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_each_broken_rule_is_a_reject_with_its_reason(paths):
    reference(paths)
    lines = [
        asterisk("ok.1", "2026-10-01 12:00:00", "2026-10-01 12:00:05", "2026-10-01 12:01:05", 65, 60),
        asterisk("ts.1", "2026-10-01 12:00:00", "", "yesterday", 65, 0),
        asterisk("ebs.1", "2026-10-01 12:00:00", "", "2026-10-01 10:00:00", 0, 0),
        asterisk("bgd.1", "2026-10-01 12:00:00", "2026-10-01 12:00:05", "2026-10-01 12:01:05", 65, 70),
        asterisk("neg.1", "2026-10-01 12:00:00", "2026-10-01 12:00:05", "2026-10-01 12:01:05", -65, 60),
        asterisk("num.1", "2026-10-01 12:00:00", "2026-10-01 12:00:05", "2026-10-01 12:01:05", 65, 60, dst="s"),
        asterisk("inc.1", "2026-10-01 12:00:00", "2026-10-01 12:00:05", "2026-10-01 12:01:05", 600, 60),
        asterisk("dsp.1", "2026-10-01 12:00:00", "", "2026-10-01 12:01:05", 65, 0, disposition="MAYBE"),
    ]
    land(paths, "asterisk", "2026-10-01", "ast-lon1_20261001T11Z.csv", ("\n".join(lines) + "\n").encode())
    fs = freeswitch("", "2026-10-01 14:00:00", "", "2026-10-01 14:00:10", 10, 0, cause="NO_ANSWER")
    land(paths, "freeswitch", "2026-10-01", "fs-ber1_20261001T12Z.csv", (fs + "\n").encode())
    land(paths, "asterisk", "2026-10-01", "pbx9_20261001T11Z.csv", (lines[0].replace("ok.1", "x.1") + "\n").encode())
    load_and_build(paths, ["2026-10-01"])
    rejects = dict(query(paths, "select coalesce(record_key, ''), reason from marts.fct_mediation_rejects"))
    assert rejects == {
        "ts.1": "bad_timestamp",
        "ebs.1": "end_before_start",
        "bgd.1": "billsec_gt_duration",
        "neg.1": "negative_or_absurd_duration",
        "num.1": "invalid_number",
        "inc.1": "inconsistent_duration",
        "dsp.1": "unknown_disposition",
        "x.1": "unknown_switch",
        "": "missing_call_id",
    }
    # the one good record: 07700 900123 dialled in London is +44 7700 900123, a UK mobile
    assert query(
        paths,
        "select call_id, account_id, a_number, b_number, call_type, billable_seconds, disposition, "
        "q850_cause, start_at::varchar from marts.fct_calls",
    ) == [
        (
            "ast-lon1:ok.1",
            "ACC-1",
            "442071234567",
            "447700900123",
            "domestic_mobile",
            60,
            "answered",
            16,
            "2026-10-01 11:00:00",
        ),  # BST: UTC+1
    ]
    assert query(paths, "select sum(records_unaccounted), sum(records_in) from marts.rpt_mediation_conservation") == [
        (0, 10)
    ]


def test_dst_fall_back_hour_is_resolved_by_the_files_utc_hour(paths):
    reference(paths)
    # 2026-10-25: London clocks go back at 02:00 BST = 01:00 UTC, so 01:30 local happens at 00:30 and 01:30 UTC.
    first = asterisk("d.1", "2026-10-25 01:29:00", "2026-10-25 01:29:10", "2026-10-25 01:30:00", 60, 50)
    second = asterisk(
        "d.2", "2026-10-25 01:29:00", "2026-10-25 01:29:10", "2026-10-25 01:30:00", 60, 50, dst="07700900999"
    )
    # a call that starts in the first 01:50 (BST) and ends at the second 01:10 (GMT): 20 minutes, local end < start
    across = asterisk(
        "d.3", "2026-10-25 01:50:00", "2026-10-25 01:50:00", "2026-10-25 01:10:00", 1200, 1200, dst="07700900888"
    )
    land(paths, "asterisk", "2026-10-25", "ast-lon1_20261025T00Z.csv", f"{first}\n".encode())
    land(paths, "asterisk", "2026-10-25", "ast-lon1_20261025T01Z.csv", f"{second}\n{across}\n".encode())
    # Berlin: 02:30 local happens at 00:30 UTC (CEST) and 01:30 UTC (CET)
    fs = freeswitch("u-1", "2026-10-25 02:29:00", "2026-10-25 02:29:30", "2026-10-25 02:30:00", 60, 30)
    land(paths, "freeswitch", "2026-10-25", "fs-ber1_20261025T01Z.csv", f"{fs}\n".encode())
    load_and_build(paths, ["2026-10-01", "2026-10-25"])
    calls = query(
        paths,
        "select call_id, start_at::varchar, answer_at::varchar, end_at::varchar from marts.fct_calls order by call_id",
    )
    assert calls == [
        ("ast-lon1:d.1", "2026-10-25 00:29:00", "2026-10-25 00:29:10", "2026-10-25 00:30:00"),
        ("ast-lon1:d.2", "2026-10-25 01:29:00", "2026-10-25 01:29:10", "2026-10-25 01:30:00"),
        ("ast-lon1:d.3", "2026-10-25 00:50:00", "2026-10-25 00:50:00", "2026-10-25 01:10:00"),
        ("fs-ber1:u-1", "2026-10-25 01:29:00", "2026-10-25 01:29:30", "2026-10-25 01:30:00"),
    ]


def test_clock_fault_reported_by_the_noc_is_taken_off(paths):
    reference(paths)
    land(
        paths,
        "network",
        "2026-10-02",
        "clock_corrections.csv",
        b"switch_id,valid_from_utc,valid_to_utc,offset_seconds,note\n"
        b"fs-ber1,2026-10-01T23:00:00Z,2026-10-02T02:00:00Z,3600,clock ran ahead\n",
    )
    # true start 23:30 UTC = 01:30 CEST; the fast clock wrote 02:30 local, in its file of UTC hour 00
    skewed = freeswitch("s-1", "2026-10-02 02:30:00", "2026-10-02 02:30:05", "2026-10-02 02:31:00", 60, 55)
    # recorded 22:00 UTC (00:00 local): recorded start less the offset is before the window, so left alone
    fine = freeswitch("s-2", "2026-10-02 00:00:00", "2026-10-02 00:00:05", "2026-10-02 00:01:00", 60, 55)
    land(paths, "freeswitch", "2026-10-02", "fs-ber1_20261002T00Z.csv", f"{skewed}\n".encode())
    land(paths, "freeswitch", "2026-10-02", "fs-ber1_20261001T22Z.csv", f"{fine}\n".encode())
    load_and_build(paths, ["2026-10-01", "2026-10-02"])
    assert query(
        paths, "select call_id, start_at::varchar, is_clock_corrected from marts.fct_calls order by call_id"
    ) == [
        ("fs-ber1:s-1", "2026-10-01 23:30:00", True),
        ("fs-ber1:s-2", "2026-10-01 22:00:00", False),
    ]


def test_unknown_trunk_waits_in_suspense_and_leaves_it_once_its_assignment_lands(paths):
    reference(paths)
    call = asterisk(
        "late.1",
        "2026-10-01 12:00:00",
        "2026-10-01 12:00:05",
        "2026-10-01 12:01:05",
        65,
        60,
        channel="SIP/lon-tr-9-0000001a",
    )
    land(paths, "asterisk", "2026-10-01", "ast-lon1_20261001T11Z.csv", f"{call}\n".encode())
    load_and_build(paths, ["2026-10-01"])
    assert query(paths, "select call_id, reason, age_days from marts.fct_suspense") == [
        ("ast-lon1:late.1", "unknown_account", 0)
    ]
    assert query(paths, "select count(*) from marts.fct_calls") == [(0,)]
    # three days later the CRM says the trunk was ACC-1's since before the call
    land(
        paths,
        "crm",
        "2026-10-04",
        "service_assignments.csv",
        (ASSIGNMENTS_HEADER + "trunk,lon-tr-9,ast-lon1,ACC-1,2026-09-30,\n").encode(),
    )
    land(paths, "asterisk", "2026-10-04", "ast-lon1_20261004T11Z.csv", b"")
    load_and_build(paths, ["2026-10-04"])  # day 4's partition alone releases day 1's call
    assert query(paths, "select count(*) from marts.fct_suspense") == [(0,)]
    assert query(
        paths,
        "select call_id, account_id, was_suspended, mediated_on::varchar, delivery_date::varchar from marts.fct_calls",
    ) == [("ast-lon1:late.1", "ACC-1", True, "2026-10-04", "2026-10-01")]
    # re-running changes nothing: still one call, released once
    load_and_build(paths, ["2026-10-01", "2026-10-04"])
    assert query(paths, "select count(*), count(distinct call_id) from marts.fct_calls") == [(1, 1)]


def test_duplicates_and_partials(paths):
    reference(paths)
    a = asterisk("dup.1", "2026-10-01 12:00:00", "2026-10-01 12:00:05", "2026-10-01 12:01:05", 65, 60)
    near = asterisk("near.1", "2026-10-01 12:00:02", "2026-10-01 12:00:07", "2026-10-01 12:01:07", 65, 60)
    # the same parties a minute later is another call
    redial = asterisk("redial.1", "2026-10-01 12:01:30", "2026-10-01 12:01:35", "2026-10-01 12:02:35", 65, 60)
    land(paths, "asterisk", "2026-10-01", "ast-lon1_20261001T11Z.csv", f"{a}\n{near}\n{redial}\n".encode())
    land(paths, "asterisk", "2026-10-01", "ast-lon1b_20261001T11Z.csv", f"{a}\n".encode())  # a second backend
    # a 70-minute carrier call in three partials, the last one delivered a day later
    parts = [
        "R1,partial,REF1,1,0,nyc-tr-1,+12125550100,011442071234567,2026-10-01T23:00:00Z,2026-10-01T23:00:10Z,"
        "2026-10-01T23:30:10Z,1810,1800,,RT1",
        "R2,partial,REF1,2,0,nyc-tr-1,+12125550100,011442071234567,2026-10-01T23:30:10Z,2026-10-01T23:30:10Z,"
        "2026-10-02T00:00:10Z,1800,1800,,RT1",
        "R3,partial,REF1,3,1,nyc-tr-1,+12125550100,011442071234567,2026-10-02T00:00:10Z,2026-10-02T00:00:10Z,"
        "2026-10-02T00:10:10Z,600,600,16,RT1",
    ]
    land(paths, "carrier", "2026-10-01", "car-nyc1_20261001T23Z.csv", (CARRIER_HEADER + parts[0] + "\n").encode())
    land(paths, "carrier", "2026-10-02", "car-nyc1_20261002T00Z.csv", (CARRIER_HEADER + parts[1] + "\n").encode())
    load_and_build(paths, ["2026-10-01", "2026-10-02"])
    assert query(paths, "select call_id, reason from marts.fct_suspense") == [("car-nyc1:REF1", "orphan_partial")]
    assert query(paths, "select record_key, reason, duplicate_of from marts.fct_mediation_rejects order by reason") == [
        ("dup.1", "duplicate_record", "ast-lon1:dup.1"),
        ("near.1", "near_duplicate", "ast-lon1:dup.1"),
    ]
    # day 3's partition alone: the last part completes the call from parts days 1 and 2 delivered, and
    # copies of day 1's calls (a re-sent record, the redial written again 3 s later) are found
    land(paths, "carrier", "2026-10-03", "car-nyc1_20261002T00Z_b.csv", (CARRIER_HEADER + parts[2] + "\n").encode())
    redial_again = asterisk("near.2", "2026-10-01 12:01:33", "2026-10-01 12:01:38", "2026-10-01 12:02:38", 65, 60)
    land(paths, "asterisk", "2026-10-03", "ast-lon1_20261001T11Z_resent.csv", f"{a}\n{redial_again}\n".encode())
    load_and_build(paths, ["2026-10-03"])
    assert query(paths, "select count(*) from marts.fct_suspense") == [(0,)]
    assert query(
        paths,
        "select record_key, reason, duplicate_of, delivery_date::varchar from marts.fct_mediation_rejects "
        "order by delivery_date, reason",
    ) == [
        ("dup.1", "duplicate_record", "ast-lon1:dup.1", "2026-10-01"),
        ("near.1", "near_duplicate", "ast-lon1:dup.1", "2026-10-01"),
        ("dup.1", "duplicate_record", "ast-lon1:dup.1", "2026-10-03"),
        ("near.2", "near_duplicate", "ast-lon1:redial.1", "2026-10-03"),
    ]
    assert query(
        paths,
        "select call_id, record_count, assembly, start_at::varchar, answer_at::varchar, "
        "end_at::varchar, billable_seconds, duration_seconds, q850_cause, b_number, call_type "
        "from marts.fct_calls where source = 'carrier'",
    ) == [
        (
            "car-nyc1:REF1",
            3,
            "assembled",
            "2026-10-01 23:00:00",
            "2026-10-01 23:00:10",
            "2026-10-02 00:10:10",
            4200,
            4210,
            16,
            "442071234567",
            "international",
        ),
    ]
    assert sorted(query(paths, "select call_id from marts.fct_calls where source = 'asterisk'")) == [
        ("ast-lon1:dup.1",),
        ("ast-lon1:redial.1",),
    ]
    conservation = query(
        paths,
        "select sum(records_in), sum(calls_out), sum(partials_merged), sum(duplicates), "
        "sum(rejected), sum(suspended), sum(records_unaccounted) "
        "from marts.rpt_mediation_conservation",
    )
    assert conservation == [(9, 3, 2, 4, 0, 0, 0)]
    # mediating the three days again in one run, from their records, gives the same marts
    marts = """select (select list((call_id, account_id, start_at, billable_seconds) order by call_id)
                       from marts.fct_calls),
                      (select list((file_id, line_no, reason, duplicate_of) order by file_id, line_no)
                       from marts.fct_mediation_rejects)"""
    before = query(paths, marts)
    load_and_build(paths, ["2026-10-01", "2026-10-03"])
    assert query(paths, marts) == before


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
def test_real_asterisk_and_freeswitch_records_become_calls_or_rejects_with_reasons(paths):
    """Files real switches wrote (in 2010), delivered now under a configured switch: every line is a call, a
    reject with a reason or held in suspense, and the quirks the samples are known for get the right reason."""
    land(
        paths,
        "network",
        "2026-10-01",
        "switches.csv",
        (
            b"switch_id,source,timezone,country_code,country_calling_code,national_prefix,international_prefix,"
            b"format_variant,valid_from,valid_to\n"
            b"ast-lab,asterisk,UTC,US,1,1,011,cdr_csv_18,2000-01-01,\n"
            b"fs-lab,freeswitch,UTC,DE,49,0,00,json,2000-01-01,\n"
        ),
    )
    folder = REALDATA / "asterisk-testsuite"
    for name in ["self_test_Master.csv", "cdrlib_good.csv", "cdrlib_buggy.csv"]:
        target = paths.landing / "asterisk" / "2026-10-01" / f"ast-lab_{name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / name, target)
    for cdr in sorted((REALDATA / "cgrates").glob("freeswitch_json_cdr_*.json")):
        target = paths.landing / "freeswitch" / "2026-10-01" / f"fs-lab_{cdr.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cdr, target)
    load_and_build(paths, ["2026-10-01"])
    lines = sum(len(p.read_bytes().splitlines()) for p in (paths.landing / "asterisk").rglob("*.csv"))
    outcomes = query(
        paths,
        """
        select (select count(*) from marts.fct_calls where source = 'asterisk')
             + (select count(*) from marts.fct_suspense where source = 'asterisk')
             + (select count(*) from marts.fct_mediation_rejects where source = 'asterisk')""",
    )
    assert outcomes == [(lines,)]
    reasons = dict(query(paths, "select reason, count(*) from marts.fct_mediation_rejects group by reason"))
    # cdrlib_good.csv's second row has billsec 7 > duration 5; the buggy file ends inside a quoted field
    assert reasons.get("billsec_gt_duration") == 1
    assert reasons.get("unparseable_row", 0) + reasons.get("wrong_column_count", 0) >= 1
    # the three FreeSWITCH JSON CDRs: each a call, in suspense, or rejected with a reason
    fs = query(
        paths,
        """
        select (select count(*) from marts.fct_calls where source = 'freeswitch')
             + (select count(*) from marts.fct_suspense where source = 'freeswitch')
             + (select count(*) from marts.fct_mediation_rejects where source = 'freeswitch')""",
    )
    assert fs == [(3,)]
    assert query(paths, "select sum(records_unaccounted) from marts.rpt_mediation_conservation") == [(0,)]
