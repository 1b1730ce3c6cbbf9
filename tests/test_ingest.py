"""Raw ingestion on hand-made files: every line a raw row or a reject with the right reason and line number,
re-deliveries and unreadable files recognised, re-loading a day idempotent."""

from __future__ import annotations

import gzip
import shutil
from datetime import date

import duckdb
import pytest

from orchestration.ingestion.layouts import CARRIER_COLUMNS
from orchestration.ingestion.load import ingest_day
from tests.conftest import REALDATA, land

DAY = date(2026, 10, 1)
D = DAY.isoformat()


def ast(src: str = "02071234567", clid: str = '"""Ann"" <02071234567>"', billsec: int = 5, uid: str = "1.0") -> str:
    """An 18-column Asterisk cdr_csv line in the switch's own quoting."""
    return (
        f'"ACC1","{src}","00493012345678","from-trunk",{clid},"SIP/tr1-0000001a","SIP/rt1-0000001b",'
        f'"Dial","SIP/rt1/00493012345678","2026-10-01 12:00:00","2026-10-01 12:00:03",'
        f'"2026-10-01 12:00:08",8,{billsec},"ANSWERED","DOCUMENTATION","{uid}",""'
    )


def carrier_line(record_id: str) -> str:
    return (
        f"{record_id},complete,C{record_id},,,TRK9,+12125550100,011442071234567,2026-10-01T12:00:00Z,"
        "2026-10-01T12:00:02Z,2026-10-01T12:01:02Z,62,60,16,RT1"
    )


def rows(con, table: str) -> list[tuple]:
    return con.execute(f"select line_no, src, billsec, clid from raw.{table} order by line_no").fetchall()


def rejects(con) -> list[tuple]:
    return con.execute("select line_no, reason, raw_line from raw.rejects order by line_no").fetchall()


def test_every_line_is_a_row_or_a_reject_with_its_reason(paths, con):
    lines = [
        ast(uid="1.1"),  # 1 good
        "",  # 2 blank
        "this is not a CDR",  # 3 no delimiter: not a row at all
        ast(clid='"Ann "the boss" Lee <0207>"', uid="1.4"),  # 4 unescaped quote
        ast(uid="1.5")[:60],  # 5 truncated: unterminated quote, few columns
        ast(uid="1.6") + ',"extra"',  # 6 too many columns
        ast(uid="1.7"),  # 7 good
    ]
    content = ("\n".join(lines) + "\n").encode()
    land(paths, "asterisk", D, "ast-lon1_20261001T12Z.csv", content)
    land(
        paths,
        "asterisk",
        D,
        "ast-lon1_20261001T13Z.csv",
        (ast(uid="2.1") + "\n").encode() + b'"ACC1","0207\xff","x"\n' + (ast(uid="2.3") + "\n").encode(),
    )

    load = ingest_day(con, paths.landing, "asterisk", DAY)

    assert (load.lines, load.rows, load.rejects) == (10, 4, 6)
    got = con.execute(
        "select a.path, r.line_no, r.reason from raw.rejects r join raw.load_audit a using (file_id) order by 1, 2"
    ).fetchall()
    first, second = "asterisk/2026-10-01/ast-lon1_20261001T12Z.csv", "asterisk/2026-10-01/ast-lon1_20261001T13Z.csv"
    assert got == [
        (first, 2, "blank_line"),
        (first, 3, "unparseable_row"),
        (first, 4, "unparseable_row"),
        (first, 5, "unparseable_row"),
        (first, 6, "wrong_column_count"),
        (second, 2, "encoding_error"),
    ]
    good = con.execute(
        "select a.path, c.line_no, c.uniqueid, c.clid from raw.asterisk__cdr c join raw.load_audit a using (file_id) "
        "order by 1, 2"
    ).fetchall()
    assert good == [
        (first, 1, "1.1", '"Ann" <02071234567>'),
        (first, 7, "1.7", '"Ann" <02071234567>'),
        (second, 1, "2.1", '"Ann" <02071234567>'),
        (second, 3, "2.3", '"Ann" <02071234567>'),
    ]
    # the original text is kept, invalid bytes escaped rather than lost
    raw_texts = dict(
        ((r[0], r[1]), r[2])
        for r in con.execute(
            "select a.path, r.line_no, r.raw_line from raw.rejects r join raw.load_audit a using (file_id)"
        ).fetchall()
    )
    assert raw_texts[(first, 3)] == "this is not a CDR"
    assert raw_texts[(second, 2)] == '"ACC1","0207\\xff","x"'


def test_variants_by_column_count_and_layout_by_header(paths, con):
    eighteen = ast(uid="1.1")
    sixteen = eighteen.rsplit(",", 2)[0]
    twenty_one = eighteen + ',"","1.1","3"'
    land(paths, "asterisk", D, "a_20261001T01Z.csv", f"{sixteen}\n{sixteen}\n".encode())
    land(paths, "asterisk", D, "b_20261001T01Z.csv", f"{twenty_one}\n".encode())
    load = ingest_day(con, paths.landing, "asterisk", DAY)
    assert load.rejects == 0
    assert con.execute(
        "select n_fields, count(*), count(uniqueid), count(sequence) from raw.asterisk__cdr group by 1 order by 1"
    ).fetchall() == [(16, 2, 0, 0), (21, 1, 1, 1)]

    header = ",".join(CARRIER_COLUMNS)
    land(paths, "carrier", D, "car_20261001T01Z.csv", f"{header}\n{carrier_line('1')}\n{carrier_line('2')}\n".encode())
    land(paths, "carrier", D, "car_20261001T02Z.csv", f"record,type\n{carrier_line('3')}\n".encode())
    load = ingest_day(con, paths.landing, "carrier", DAY)
    assert [f.status for f in load.files] == ["loaded", "quarantined"]
    assert "header" in load.files[1].reason
    assert con.execute("select line_no, record_id from raw.carrier__cdr order by 1").fetchall() == [(2, "1"), (3, "2")]


def test_redelivery_corrupt_gzip_and_unknown_layout(paths, con):
    body = f"{ast(uid='9.1')}\n{ast(uid='9.2')}\n".encode()
    land(paths, "asterisk", D, "ast_20261001T05Z.csv.gz", gzip.compress(body, mtime=0))
    land(paths, "asterisk", D, "ast_20261001T06Z.csv.gz", gzip.compress(body * 50, mtime=0)[:40])
    land(paths, "asterisk", D, "ast_20261001T07Z.csv", b"<html><body>502 Bad Gateway</body></html>\n")
    land(paths, "asterisk", D, "ast_20261001T08Z.csv", b"")
    first = ingest_day(con, paths.landing, "asterisk", DAY)
    status = {f.path.name: (f.status, (f.reason or "").split(":")[0]) for f in first.files}
    assert status == {
        "ast_20261001T05Z.csv.gz": ("loaded", ""),
        "ast_20261001T06Z.csv.gz": ("quarantined", "corrupt_gzip"),
        "ast_20261001T07Z.csv": ("quarantined", "unknown_layout"),
        "ast_20261001T08Z.csv": ("loaded", ""),
    }
    assert first.rows == 2

    # the same bytes delivered again two days later load nothing and point at the first delivery
    later = date(2026, 10, 3)
    land(paths, "asterisk", later.isoformat(), "ast_20261001T05Z.csv.gz", gzip.compress(body, mtime=0))
    again = ingest_day(con, paths.landing, "asterisk", later)
    assert [(f.status, f.duplicate_of) for f in again.files] == [("redelivery", first.files[0].file_id)]
    assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (2,)


def test_reloading_a_day_is_idempotent(paths, con):
    land(paths, "asterisk", D, "a_20261001T01Z.csv", f"{ast(uid='1')}\nbad line\n{ast(uid='3')}\n".encode())
    land(paths, "asterisk", "2026-10-02", "a_20261002T01Z.csv", f"{ast(uid='4')}\n".encode())
    ingest_day(con, paths.landing, "asterisk", date(2026, 10, 2))

    def snapshot():
        return (
            con.execute("select * from raw.asterisk__cdr order by file_id, line_no").fetchall(),
            con.execute("select * from raw.rejects order by file_id, line_no").fetchall(),
            con.execute("select * exclude (loaded_at, run_id) from raw.load_audit order by file_id").fetchall(),
        )

    ingest_day(con, paths.landing, "asterisk", DAY)
    once = snapshot()
    ingest_day(con, paths.landing, "asterisk", DAY)
    assert snapshot() == once
    assert len(once[0]) == 3 and len(once[1]) == 1


def test_odd_files_take_the_exact_path_and_still_conserve_lines(paths, con):
    # a quoted newline spans two physical lines: the fast reader's counts do not add up for that file
    quoted_newline = ast(uid="q1").replace('"Dial"', '"Di\nal"')
    land(paths, "asterisk", D, "a_20261001T01Z.csv", f"{ast(uid='1')}\n{quoted_newline}\n{ast(uid='3')}\n".encode())
    land(paths, "asterisk", D, "b_20261001T01Z.csv", f"{ast(uid='4')}\r\n{ast(uid='5')}\n".encode())
    load = ingest_day(con, paths.landing, "asterisk", DAY)
    assert load.files[0].parse_path == "exact"
    by_file = {f.path.name: (f.lines, f.rows_loaded, f.rows_rejected) for f in load.files}
    assert by_file == {"a_20261001T01Z.csv": (4, 2, 2), "b_20261001T01Z.csv": (2, 2, 0)}
    assert con.execute("select uniqueid from raw.asterisk__cdr order by uniqueid").fetchall() == [
        ("1",),
        ("3",),
        ("4",),
        ("5",),
    ]


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
def test_real_asterisk_files_every_line_a_row_or_a_reject(paths, con):
    folder = REALDATA / "asterisk-testsuite"
    names = ["self_test_Master.csv", "self_test_Master2.csv", "cdrlib_good.csv", "cdrlib_buggy.csv"]
    for name in names:
        target = paths.landing / "asterisk" / D / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / name, target)
    load = ingest_day(con, paths.landing, "asterisk", DAY)
    physical = sum(len((folder / n).read_bytes().splitlines()) for n in names)
    by_name = {f.path.name: f for f in load.files}
    assert load.lines == physical and load.rows + load.rejects == physical
    # Master2.csv is the first row of Master.csv, but a file of its own with other bytes: not a re-delivery
    assert by_name["self_test_Master2.csv"].status == "loaded"
    # cdrlib_buggy.csv ends inside a quoted field (a truncated write)
    assert (by_name["cdrlib_buggy.csv"].rows_loaded, by_name["cdrlib_buggy.csv"].rows_rejected) == (0, 1)
    assert con.execute("select distinct n_fields from raw.asterisk__cdr").fetchall() == [(18,)]


def test_a_long_range_loads_in_chunks_each_replacing_its_days(paths, con, monkeypatch):
    from orchestration.ingestion import load as ingest

    monkeypatch.setattr(ingest, "CHUNK_BYTES", 100)  # smaller than one file: a chunk per day
    days = [date(2026, 10, d) for d in (1, 2, 3)]
    for day in days:
        land(paths, "asterisk", day.isoformat(), f"a_{day}.csv", f"{ast(uid=str(day))}\n".encode())
    messages: list[str] = []
    loads = ingest.ingest_days(con, paths.landing, "asterisk", days, progress=messages.append)
    assert [load.rows for load in loads] == [1, 1, 1]
    assert len(messages) == 3 and messages[-1].endswith("(3/3 chunks)")
    ingest.ingest_days(con, paths.landing, "asterisk", days)
    assert con.execute("select count(*), count(distinct uniqueid) from raw.asterisk__cdr").fetchone() == (3, 3)


def test_first_delivery_wins_even_when_days_load_out_of_order(paths, con):
    body = f"{ast(uid='r1')}\n{ast(uid='r2')}\n".encode()
    land(paths, "asterisk", "2026-10-01", "a_20261001T01Z.csv", body)
    land(paths, "asterisk", "2026-10-04", "a_20261001T01Z.csv", body)  # the same bytes, re-sent three days later
    later = ingest_day(con, paths.landing, "asterisk", date(2026, 10, 4))  # a backfill that starts late
    assert later.files[0].status == "loaded"
    first = ingest_day(con, paths.landing, "asterisk", DAY)
    assert first.files[0].status == "loaded"
    audit = con.execute("select delivery_date::varchar, status, duplicate_of, rows_loaded from raw.load_audit "
                        "order by delivery_date").fetchall()  # fmt: skip
    assert audit == [
        ("2026-10-01", "loaded", None, 2),
        ("2026-10-04", "redelivery", first.files[0].file_id, 0),
    ]
    assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (2,)
    # and re-loading the later day now keeps it a re-delivery
    assert ingest_day(con, paths.landing, "asterisk", date(2026, 10, 4)).files[0].status == "redelivery"
    assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (2,)


def test_copies_are_only_files_with_data_in_the_same_source(paths, con):
    header = ",".join(CARRIER_COLUMNS) + "\n"
    land(paths, "carrier", D, "car_20261001T01Z.csv", header.encode())  # quiet hours: a header and nothing else
    land(paths, "carrier", D, "car_20261001T02Z.csv", header.encode())
    holidays = b"rate_plan_id,date,band\nRP1,2026-12-25,offpeak\n"
    land(paths, "catalog", D, "holidays.csv", holidays)
    land(paths, "vendor", D, "holidays.csv", holidays)  # the same bytes in another source are not a copy
    assert [f.status for f in ingest_day(con, paths.landing, "carrier", DAY).files] == ["loaded", "loaded"]
    assert ingest_day(con, paths.landing, "catalog", DAY).files[0].status == "loaded"
    assert ingest_day(con, paths.landing, "vendor", DAY).files[0].status == "loaded"
    assert con.execute("select count(*) from raw.vendor__holidays").fetchone() == (1,)


def test_a_file_the_csv_module_cannot_sniff_is_quarantined_not_fatal(paths, con):
    land(paths, "asterisk", D, "a_20261001T01Z.csv", f"{ast(uid='1')}\r{ast(uid='2')}\r".encode())  # bare \r
    land(paths, "asterisk", D, "b_20261001T01Z.csv", f"{ast(uid='3')}\n".encode())
    load = ingest_day(con, paths.landing, "asterisk", DAY)
    assert [(f.status, (f.reason or "").split(":")[0]) for f in load.files] == [
        ("quarantined", "unknown_layout"),
        ("loaded", ""),
    ]


class RefusingConnection:
    """A warehouse connection whose CSV reader refuses scans that include one file, as DuckDB does for
    inputs its state machine cannot handle."""

    def __init__(self, con, refused: str):
        self._con, self._refused = con, refused

    def execute(self, sql, params=None):
        files = (params or {}).get("files", []) if isinstance(params, dict) else []
        if "read_csv" in sql and any(self._refused in f for f in files):
            raise duckdb.InvalidInputException("CSV Parser state machine reached an invalid state")
        return self._con.execute(sql, params) if params is not None else self._con.execute(sql)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_file_the_reader_refuses_takes_the_exact_path_and_the_rest_loads(paths, con):
    for hour in (1, 2, 3):
        land(paths, "asterisk", D, f"a_20261001T0{hour}Z.csv", f"{ast(uid=str(hour))}\nbroken,line\n".encode())
    load = ingest_day(RefusingConnection(con, "T02Z"), paths.landing, "asterisk", DAY)
    assert {f.path.name: (f.parse_path, f.rows_loaded, f.rows_rejected) for f in load.files} == {
        "a_20261001T01Z.csv": ("fast", 1, 1),
        "a_20261001T02Z.csv": ("exact", 1, 1),
        "a_20261001T03Z.csv": ("fast", 1, 1),
    }
    assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (3,)
