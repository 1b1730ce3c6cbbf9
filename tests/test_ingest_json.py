"""FreeSWITCH mod_json_cdr files (one CDR per file) load into raw.freeswitch__cdr like a 15-column mod_cdr_csv
record: one raw row or one reject per file, re-deliveries recognised, lines conserved."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date

import pytest

from orchestration.ingestion.layouts import ALTERNATE_LAYOUTS, FREESWITCH_COLUMNS, LAYOUTS, match_layout
from orchestration.ingestion.load import ingest_day
from tests.conftest import REALDATA, land

DAY = date(2026, 10, 1)
D = DAY.isoformat()
CALL_UUID = "7f4de4bc-17d7-11dd-b7a0-db4edd065621"


def json_cdr(**variables: str) -> dict:
    """A mod_json_cdr document with encode-values on (the default): variable values URL-encoded."""
    return {
        "core-uuid": "6c8e6c9e-6f37-4a9c-b1a3-0c6a2b9d3c11",
        "switchname": "fs-ber1",
        "channel_data": {"state": "CS_REPORTING", "direction": "inbound", "state_number": "11"},
        "variables": {
            "direction": "inbound",
            "uuid": CALL_UUID,
            "effective_caller_id_name": "Reception%20desk",  # the B-leg's presented name: not ${caller_id_name}
            "accountcode": "ACC%2D7",
            "user_context": "public",
            "start_stamp": "2026-10-01%2012%3A00%3A00",
            "answer_stamp": "2026-10-01%2012%3A00%3A03",
            "end_stamp": "2026-10-01%2012%3A01%3A08",
            "duration": "68",
            "billsec": "65",
            "hangup_cause": "NORMAL_CLEARING",
            "read_codec": "PCMA",
            "write_codec": "PCMA",
            **variables,
        },
        "callflow": [
            {
                "dialplan": "XML",
                "profile_index": "2",
                "caller_profile": {  # the channel's current profile comes first
                    "caller_id_name": "Ann Lee",
                    "caller_id_number": "+493012345678",
                    "destination_number": "00442071234567",
                    "context": "from-trunk",
                    "uuid": CALL_UUID,
                    "originatee": {"originatee_caller_profiles": [{"uuid": "b-leg-0001", "caller_id_name": "x"}]},
                },
                "times": {"created_time": "1790942400000000", "answered_time": "1790942403000000"},
            },
            {
                "dialplan": "XML",
                "profile_index": "1",
                "caller_profile": {"caller_id_name": "old", "destination_number": "old", "context": "old"},
            },
        ],
    }


def raw_rows(con) -> list[dict]:
    cur = con.execute("select * exclude (file_id) from raw.freeswitch__cdr order by uuid")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def audit(con) -> list[tuple]:
    return con.execute(
        "select path, status, lines, header_lines, n_fields, rows_loaded, rows_rejected, parse_path, layout "
        "from raw.load_audit order by path"
    ).fetchall()


def unaccounted(con) -> list[tuple]:
    """Loaded files whose lines are not header + raw rows + rejects (the lines_conserved check's sum)."""
    return con.execute(
        """select a.path from raw.load_audit a
           left join (select file_id, count(*) n from raw.freeswitch__cdr group by 1) r using (file_id)
           left join (select file_id, count(*) n from raw.rejects group by 1) j using (file_id)
           where a.status = 'loaded' and a.lines <> a.header_lines + coalesce(r.n, 0) + coalesce(j.n, 0)"""
    ).fetchall()


def test_layout_registry_keeps_one_layout_per_table():
    assert len({layout.table for layout in LAYOUTS}) == len(LAYOUTS)  # ensure_raw_schema counts tables by it
    assert [a.table for a in ALTERNATE_LAYOUTS] == ["freeswitch__cdr"]
    assert match_layout("freeswitch", "a_7f4de4bc.cdr.json").json_document
    assert match_layout("freeswitch", "a_7f4de4bc.cdr.json.gz").json_document
    assert not match_layout("freeswitch", "fs_20261001T12Z.csv").json_document
    assert match_layout("asterisk", "x.json") is None


def test_a_json_cdr_becomes_one_15_column_row(paths, con):
    land(paths, "freeswitch", D, f"a_{CALL_UUID}.cdr.json", json.dumps(json_cdr(), indent=2).encode())
    # the same call in a gzip, with a variable that overrides the caller profile and one that is empty
    second = json_cdr(uuid="second", destination_number="%2B4989123", bleg_uuid="")
    land(paths, "freeswitch", D, "b.cdr.json.gz", gzip.compress(json.dumps(second).encode(), mtime=0))

    load = ingest_day(con, paths.landing, "freeswitch", DAY)

    assert (load.lines, load.rows, load.rejects) == (2, 2, 0)
    first, other = raw_rows(con)
    assert tuple(first)[2:] == FREESWITCH_COLUMNS
    assert first == {
        "line_no": 1,
        "n_fields": 15,
        "caller_id_name": "Ann Lee",
        "caller_id_number": "+493012345678",
        "destination_number": "00442071234567",
        "context": "from-trunk",
        "start_stamp": "2026-10-01 12:00:00",
        "answer_stamp": "2026-10-01 12:00:03",
        "end_stamp": "2026-10-01 12:01:08",
        "duration": "68",
        "billsec": "65",
        "hangup_cause": "NORMAL_CLEARING",
        "uuid": CALL_UUID,
        "bleg_uuid": "b-leg-0001",
        "accountcode": "ACC-7",
        "read_codec": "PCMA",
        "write_codec": "PCMA",
    }
    assert (other["uuid"], other["destination_number"], other["bleg_uuid"]) == ("second", "+4989123", "b-leg-0001")
    assert audit(con) == [
        (f"freeswitch/{D}/a_{CALL_UUID}.cdr.json", "loaded", 1, 0, 15, 1, 0, "json", "freeswitch__cdr"),
        (f"freeswitch/{D}/b.cdr.json.gz", "loaded", 1, 0, 15, 1, 0, "json", "freeswitch__cdr"),
    ]


def test_absent_values_are_empty_like_an_empty_csv_field(paths, con):
    bare = {"variables": {"uuid": "u1", "duration": "0"}}  # no stamps, no callflow: kept, with empty fields
    land(paths, "freeswitch", D, "u1.cdr.json", json.dumps(bare).encode())
    # and the mod_cdr_csv line of the same call: raw stores its empty fields as NULL too
    land(paths, "freeswitch", D, "fs_20261001T12Z.csv", b'"","","","","","","","0","","","u2","","","",""\n')
    ingest_day(con, paths.landing, "freeswitch", DAY)
    json_row, csv_row = raw_rows(con)
    assert {k: v for k, v in json_row.items() if k != "uuid"} == {k: v for k, v in csv_row.items() if k != "uuid"}
    assert json_row["start_stamp"] is None and json_row["n_fields"] == 15


def test_a_file_that_is_not_a_json_cdr_is_one_reject(paths, con):
    truncated = json.dumps(json_cdr())[:300]  # a write cut short
    land(paths, "freeswitch", D, "cut.cdr.json", truncated.encode())
    land(paths, "freeswitch", D, "list.cdr.json", b"[1, 2]\n")
    land(paths, "freeswitch", D, "novars.cdr.json", b'{"core-uuid": "x", "variables": "none"}')
    land(paths, "freeswitch", D, "latin1.cdr.json", b'{"variables": {"caller_id_name": "J\xfcrgen"}}')
    land(paths, "freeswitch", D, "empty.cdr.json", b"")  # no record at all: 0 lines, like an empty CSV file
    land(paths, "freeswitch", D, "good.cdr.json", json.dumps(json_cdr()).encode())

    load = ingest_day(con, paths.landing, "freeswitch", DAY)

    assert (load.lines, load.rows, load.rejects) == (5, 1, 4)
    assert [f.status for f in load.files] == ["loaded"] * 6
    rejects = con.execute(
        "select a.path, r.line_no, r.reason, r.detail, r.raw_line from raw.rejects r join raw.load_audit a "
        "using (file_id) order by 1"
    ).fetchall()
    by_name = {path.rsplit("/", 1)[1]: (line, reason, detail, raw) for path, line, reason, detail, raw in rejects}
    assert {name: (line, reason) for name, (line, reason, *_) in by_name.items()} == {
        "cut.cdr.json": (1, "unparseable_row"),
        "latin1.cdr.json": (1, "encoding_error"),
        "list.cdr.json": (1, "unparseable_row"),
        "novars.cdr.json": (1, "unparseable_row"),
    }
    assert by_name["cut.cdr.json"][2].startswith("not valid JSON")
    assert by_name["cut.cdr.json"][3] == truncated  # the original text, up to 2,000 characters
    assert "not an object" in by_name["list.cdr.json"][2]
    assert "variables" in by_name["novars.cdr.json"][2]
    assert by_name["latin1.cdr.json"][3] == '{"variables": {"caller_id_name": "J\\xfcrgen"}}'
    assert con.execute(
        "select rows_loaded, rows_rejected, lines from raw.load_audit where path like '%cut.cdr.json'"
    ).fetchone() == (0, 1, 1)
    assert con.execute("select lines, parse_path from raw.load_audit where path like '%empty.cdr.json'").fetchone() == (
        0,
        "json",
    )
    assert unaccounted(con) == []


def test_a_long_document_keeps_its_first_2000_characters(paths, con):
    broken = "{" + '"variables": {"x": "' + "y" * 5000  # never closed
    land(paths, "freeswitch", D, "long.cdr.json", broken.encode())
    ingest_day(con, paths.landing, "freeswitch", DAY)
    assert con.execute("select length(raw_line), reason from raw.rejects").fetchone() == (2000, "unparseable_row")


def test_the_same_json_cdr_delivered_twice_is_a_redelivery(paths, con):
    body = json.dumps(json_cdr()).encode()
    land(paths, "freeswitch", D, "a.cdr.json", body)
    land(paths, "freeswitch", "2026-10-03", "a.cdr.json", body)
    first = ingest_day(con, paths.landing, "freeswitch", DAY)
    again = ingest_day(con, paths.landing, "freeswitch", date(2026, 10, 3))
    assert [f.status for f in first.files] == ["loaded"]
    assert [(f.status, f.duplicate_of, f.rows_loaded) for f in again.files] == [
        ("redelivery", first.files[0].file_id, 0)
    ]
    assert con.execute("select count(*) from raw.freeswitch__cdr").fetchone() == (1,)

    # re-loading both days changes nothing; loading the earlier day after the later one keeps the first delivery
    def snapshot():
        return (
            con.execute("select * from raw.freeswitch__cdr order by file_id").fetchall(),
            con.execute("select * exclude (loaded_at, run_id) from raw.load_audit order by file_id").fetchall(),
        )

    once = snapshot()
    ingest_day(con, paths.landing, "freeswitch", date(2026, 10, 3))
    ingest_day(con, paths.landing, "freeswitch", DAY)
    assert snapshot() == once


def test_json_and_csv_files_of_one_day_load_together(paths, con):
    csv_line = '"Bob","+4930999","0049891234","default","2026-10-01 13:00:00","","2026-10-01 13:00:09","9","0",'
    csv_line += '"NO_ANSWER","c1","","ACC1","PCMA","PCMA"\n'
    land(paths, "freeswitch", D, "fs-ber1_20261001T13Z.csv", csv_line.encode() * 2)
    land(paths, "freeswitch", D, "a.cdr.json", json.dumps(json_cdr()).encode())
    load = ingest_day(con, paths.landing, "freeswitch", DAY)
    assert {f.path.name: (f.parse_path, f.rows_loaded) for f in load.files} == {
        "fs-ber1_20261001T13Z.csv": ("fast", 2),
        "a.cdr.json": ("json", 1),
    }
    assert con.execute("select n_fields, count(*) from raw.freeswitch__cdr group by 1").fetchall() == [(15, 3)]
    assert unaccounted(con) == []


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
def test_real_freeswitch_json_cdrs_each_one_row_or_one_reject(paths, con):
    # CGRateS test fixtures (AGPL): copied into the test's temporary landing folder only, never into the repo
    sources = sorted((REALDATA / "cgrates").glob("freeswitch_json_cdr_*.json"))
    assert len(sources) == 3
    for source in sources:
        target = paths.landing / "freeswitch" / D / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)

    load = ingest_day(con, paths.landing, "freeswitch", DAY)

    assert [(f.status, f.lines, f.rows_loaded + f.rows_rejected) for f in load.files] == [("loaded", 1, 1)] * 3
    assert con.execute("select count(*) from raw.rejects where reason is null").fetchone() == (0,)
    assert unaccounted(con) == []
    rows = {
        row[0]: row[1:]
        for row in con.execute(
            "select a.path, c.caller_id_number, c.destination_number, c.context, c.start_stamp, c.answer_stamp, "
            "c.end_stamp, c.billsec, c.hangup_cause from raw.freeswitch__cdr c join raw.load_audit a using (file_id)"
        ).fetchall()
    }
    # the 2014 file repeats the `callflow` key instead of writing an array: it parses, the first one counts
    old = rows[f"freeswitch/{D}/freeswitch_json_cdr_2014_repeated_callflow_keys.json"]
    assert old == (
        "1001",
        "1002",
        "default",
        "2014-04-08 21:10:21",
        "2014-04-08 21:10:27",
        "2014-04-08 21:10:42",
        "15",
        "NORMAL_CLEARING",
    )
    hold = rows[f"freeswitch/{D}/freeswitch_json_cdr_answered_hold.json"]
    assert hold[:2] == ("1001", "1002") and hold[6:] == ("68", "NORMAL_CLEARING")
    # the cut-down file has no stamps: kept with empty stamps (mediation rejects it as bad_timestamp), no
    # stamp invented from the `times` epochs
    simple = rows[f"freeswitch/{D}/freeswitch_json_cdr_simple.json"]
    assert simple[3:6] == (None, None, None) and simple[0] == "4986517174963"
