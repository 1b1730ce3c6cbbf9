"""Raw ingestion under hostile landings: files outside a day folder are refused in the audit, never skipped
unseen; one bad line is a reject, not a quarantine of its file; a stray carriage return and a quoted newline
in one file do not shift any line number."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, date, datetime

import duckdb
import pytest

from orchestration.ingestion.load import PLACEMENT_REASONS, ingest_days
from tests.conftest import land
from tests.test_ingest import ast

DAY = date(2026, 10, 1)
D = DAY.isoformat()


def numbered(n: int) -> list[str]:
    """n good 18-column Asterisk lines, line k carrying uniqueid "k" so a row's line number can be checked."""
    return [ast(uid=str(k)) for k in range(1, n + 1)]


def write(paths, relative: str, content: bytes):
    target = paths.landing / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return target


def audit(con) -> list[tuple]:
    return con.execute(
        "select source, delivery_date::varchar, path, status, coalesce(split_part(reason, ':', 1), ''), rows_loaded "
        "from raw.load_audit order by path"
    ).fetchall()


def rows_by_line(con) -> dict[int, str]:
    return dict(con.execute("select line_no, uniqueid from raw.asterisk__cdr").fetchall())


def reject_lines(con) -> dict[int, str]:
    return dict(con.execute("select line_no, reason from raw.rejects").fetchall())


# --- defect 7: every file under the landing area is loaded or refused with a reason -----------------------------


def test_files_outside_a_day_folder_are_refused_once_with_a_reason(paths, con):
    good = ("\n".join(numbered(2)) + "\n").encode()
    land(paths, "asterisk", D, "a_20261001T01Z.csv", good)
    write(paths, f"asterisk/{D}/retry/a_20261001T02Z.csv", good.replace(b'"1"', b'"r1"'))  # nested in a day
    write(paths, "asterisk/20261006/a_20261006T01Z.csv", good)  # compact day folder
    write(paths, "asterisk/a_20261002T05Z.csv", good)  # in the source's root, a date in its name
    undated = write(paths, "asterisk/notes.txt", b"call me\n")  # in the source's root, no date at all
    os.utime(undated, (datetime(2026, 10, 9, 12, tzinfo=UTC).timestamp(),) * 2)
    write(paths, f"asterix/{D}/a_20261001T01Z.csv", good)  # a source nobody loads
    stray_root = write(paths, "manifest.txt", b"x\n")  # in the landing area's root
    os.utime(stray_root, (datetime(2026, 10, 3, 1, tzinfo=UTC).timestamp(),) * 2)

    loads = ingest_days(con, paths.landing, "asterisk", [DAY])

    expected = [  # in path order
        ("asterisk", D, "asterisk/2026-10-01/a_20261001T01Z.csv", "loaded", "", 2),
        ("asterisk", D, "asterisk/2026-10-01/retry/a_20261001T02Z.csv", "refused", "nested_folder", 0),
        ("asterisk", "2026-10-06", "asterisk/20261006/a_20261006T01Z.csv", "refused", "day_folder_not_iso", 0),
        ("asterisk", "2026-10-02", "asterisk/a_20261002T05Z.csv", "refused", "not_in_a_day_folder", 0),
        ("asterisk", "2026-10-09", "asterisk/notes.txt", "refused", "not_in_a_day_folder", 0),
        ("asterix", D, f"asterix/{D}/a_20261001T01Z.csv", "refused", "unknown_source", 0),
        ("(landing)", "2026-10-03", "manifest.txt", "refused", "not_in_a_source_folder", 0),
    ]
    assert audit(con) == expected
    assert sorted(f.rel_path for f in loads.refused) == sorted(row[2] for row in expected if row[3] == "refused")
    assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (2,)

    # re-running the day, another range, or another source's load records each stray once, never twice
    ingest_days(con, paths.landing, "asterisk", [DAY])
    ingest_days(con, paths.landing, "asterisk", [date(2026, 10, 6)])
    ingest_days(con, paths.landing, "freeswitch", [DAY])
    assert audit(con) == expected

    # a stray moved into its day folder loads, and its refusal is gone
    (paths.landing / "asterisk/20261006/a_20261006T01Z.csv").unlink()
    land(paths, "asterisk", "2026-10-06", "a_20261006T01Z.csv", good.replace(b'"2"', b'"6.2"'))
    ingest_days(con, paths.landing, "asterisk", [date(2026, 10, 6)])
    assert ("asterisk", "2026-10-06", "asterisk/2026-10-06/a_20261006T01Z.csv", "loaded", "", 2) in audit(con)
    assert not [row for row in audit(con) if "20261006/" in row[2]]


def test_refusals_fail_the_quarantine_check_and_name_the_files(paths, capfd):
    from orchestration.pipeline.runs import load_days

    land(paths, "asterisk", D, "a_20261001T01Z.csv", (ast(uid="1") + "\n").encode())
    write(paths, f"asterisk/{D}/sub/a_20261001T02Z.csv", (ast(uid="2") + "\n").encode())
    result = load_days(paths, DAY, DAY, ["asterisk"])
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    check = checks["no_quarantined_files"]
    assert not check.passed
    assert check.metadata["refused"].value == 1
    (named,) = check.metadata["files"].value
    assert named.startswith(f"asterisk/{D}/sub/a_20261001T02Z.csv: nested_folder")
    assert checks["lines_conserved"].passed
    (materialization,) = result.asset_materializations_for_node("raw__asterisk")
    assert materialization.metadata["refused"].value == 1
    # the run's log, which the CLI prints, names the file and why
    assert f"refused asterisk/{D}/sub/a_20261001T02Z.csv: nested_folder" in capfd.readouterr().err


# --- defect 8: a bad line is a reject; only a file that cannot be read as its layout is quarantined ---------------

BAD_LINES = {
    # name: (line 3 as bytes, its reject reason, or None where the line is good CSV and loads)
    "nul_byte": (ast(uid="3").replace('"Dial"', '"Di\x00al"').encode(), "encoding_error"),
    "stray_carriage_return": (ast(uid="3").replace(',"Dial"', ',\r"Dial"').encode(), "unparseable_row"),
    "field_over_128_kb": (ast(uid="3").replace('"Dial"', '"' + "x" * 140_000 + '"').encode(), None),
}


@pytest.mark.parametrize("damage", sorted(BAD_LINES))
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_one_bad_line_is_a_reject_and_the_good_lines_load(paths, con, damage, gzipped):
    lines = [line.encode() for line in numbered(250)]
    lines[2], reason = BAD_LINES[damage]
    content = b"\n".join(lines) + b"\n"
    name = "a_20261001T01Z.csv"
    land(paths, "asterisk", D, name + (".gz" if gzipped else ""), gzip.compress(content) if gzipped else content)

    (load,) = ingest_days(con, paths.landing, "asterisk", [DAY])

    (f,) = load.files
    assert (f.status, f.reason) == ("loaded", None)
    if reason is None:
        assert (f.rows_loaded, f.rows_rejected) == (250, 0)
        assert con.execute("select length(lastapp) from raw.asterisk__cdr where line_no = 3").fetchone() == (140_000,)
    else:
        assert (f.rows_loaded, f.rows_rejected) == (249, 1)
        assert reject_lines(con) == {3: reason}
    loaded = rows_by_line(con)
    assert all(loaded[n] == str(n) for n in range(1, 251) if n != 3 or reason is None)


def test_a_line_longer_than_the_reader_takes_is_a_reject(paths, con):
    lines = numbered(5)
    lines[1] = ast(uid="2").replace('"Dial"', '"' + "y" * 2_100_000 + '"')
    land(paths, "asterisk", D, "a_20261001T01Z.csv", ("\n".join(lines) + "\n").encode())
    (load,) = ingest_days(con, paths.landing, "asterisk", [DAY])
    assert (load.files[0].status, load.rows, load.rejects) == ("loaded", 4, 1)
    assert reject_lines(con) == {2: "line_too_long"}
    assert rows_by_line(con) == {1: "1", 3: "3", 4: "4", 5: "5"}


def test_a_file_of_nothing_but_binary_is_still_quarantined(paths, con):
    land(paths, "asterisk", D, "a_20261001T01Z.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20)
    (load,) = ingest_days(con, paths.landing, "asterisk", [DAY])
    assert load.files[0].status == "quarantined"
    assert load.files[0].reason.startswith("unknown_layout")


# --- defect 9: line numbers are exact even when a stray CR and a quoted newline would cancel in the totals --------


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_stray_cr_and_quoted_newline_do_not_shift_line_numbers(paths, con, crlf):
    lines = numbered(210)
    lines[204] = ast(uid="205").replace(',"Dial"', ',\r"Dial"')  # line 205: a stray CR
    lines[206] = ast(uid="207").replace('"Dial"', '"Di\nal"')  # lines 207-208: a quoted newline
    eol = "\r\n" if crlf else "\n"
    land(paths, "asterisk", D, "a_20261001T01Z.csv", (eol.join(lines) + eol).encode())

    (load,) = ingest_days(con, paths.landing, "asterisk", [DAY])

    assert (load.lines, load.rows, load.rejects) == (211, 208, 3)
    assert reject_lines(con) == {205: "unparseable_row", 207: "unparseable_row", 208: "wrong_column_count"}
    # every good line is the row at its own number: line n carries uniqueid n up to 206, n - 1 after the split
    expected = {n: str(n) for n in range(1, 205)} | {206: "206"} | {n: str(n - 1) for n in range(209, 212)}
    assert rows_by_line(con) == expected
    texts = dict(con.execute("select line_no, raw_line from raw.rejects").fetchall())
    assert texts[205] == lines[204]
    assert texts[208].startswith('al","SIP/rt1/')


# --- found by tests/test_ingest_fuzz.py: both paths read a trailing delimiter alike ----------------------------


def test_empty_fields_past_the_width_are_trailing_delimiters_on_both_paths(paths, con):
    trailing = ast(uid="2") + ',"",'  # 18 columns, then two empty ones
    fast = f"{ast(uid='1')}\n{trailing}\n{ast(uid='3')},x\n{ast(uid='4')}\n"
    land(paths, "asterisk", D, "a_20261001T01Z.csv", fast.encode())
    land(paths, "asterisk", D, "b_20261001T01Z.csv", fast.replace(",x\n", ",x\r\n").encode())  # mixed: exact path
    (load,) = ingest_days(con, paths.landing, "asterisk", [DAY])
    assert [(f.parse_path, f.rows_loaded, f.rows_rejected) for f in load.files] == [("fast", 3, 1), ("exact", 3, 1)]
    assert con.execute(
        "select a.path, r.line_no, r.uniqueid, r.userfield from raw.asterisk__cdr r join raw.load_audit a "
        "using (file_id) where r.line_no = 2 order by 1"
    ).fetchall() == [
        (f"asterisk/{D}/a_20261001T01Z.csv", 2, "2", None),
        (f"asterisk/{D}/b_20261001T01Z.csv", 2, "2", None),
    ]
    assert con.execute("select distinct line_no, reason from raw.rejects").fetchall() == [(3, "wrong_column_count")]


def test_a_warehouse_from_before_refusals_gets_its_audit_check_widened(paths, con):
    from orchestration.warehouse import RAW_AUDIT_DDL, ensure_raw_schema

    old_ddl = RAW_AUDIT_DDL.replace("'quarantined', 'refused'", "'quarantined'")
    assert old_ddl != RAW_AUDIT_DDL
    con.execute(old_ddl)
    ensure_raw_schema(con)
    con.execute(  # what an earlier load audited
        "insert into raw.load_audit (file_id, source, delivery_date, path, size_bytes, sha256, compression, "
        "rows_loaded, rows_rejected, status, reason, loaded_at) values ('f0', 'asterisk', '2026-09-30', "
        "'asterisk/2026-09-30/old.csv', 9, 'abc', 'none', 0, 0, 'quarantined', 'corrupt_gzip', now())"
    )
    write(paths, "asterisk/stray.csv", (ast(uid="2") + "\n").encode())
    loads = ingest_days(con, paths.landing, "asterisk", [DAY])
    assert [f.rel_path for f in loads.refused] == ["asterisk/stray.csv"]
    assert con.execute("select path, status, reason from raw.load_audit order by path").fetchall() == [
        ("asterisk/2026-09-30/old.csv", "quarantined", "corrupt_gzip"),
        ("asterisk/stray.csv", "refused", "not_in_a_day_folder: " + PLACEMENT_REASONS["not_in_a_day_folder"]),
    ]
    with pytest.raises(duckdb.ConstraintException):  # the check is still there, one status wider
        con.execute("update raw.load_audit set status = 'lost'")


# --- a refused file is leakage to work, and its date bounds nothing ----------------------------------------------


def test_a_refused_file_is_an_ra01_finding_and_moves_no_as_of_date(paths, con):
    """A stray dated by its modification time (Christmas) must not become the warehouse's latest day: the
    receivables' as-of date and the time-zone table's span follow loaded deliveries only. The stray itself is
    usage that never reached mediation, so RA-01 lists it."""
    from orchestration.settings import run_dbt
    from tests.test_mediation import SWITCHES

    land(paths, "network", D, "switches.csv", SWITCHES.encode())
    ingest_days(con, paths.landing, "network", [DAY])
    land(paths, "asterisk", D, "a_20261001T01Z.csv", ("\n".join(numbered(2)) + "\n").encode())
    stray = write(paths, "asterisk/misplaced.csv", ("\n".join(numbered(2)) + "\n").encode())
    os.utime(stray, (datetime(2026, 12, 25, 9, tzinfo=UTC).timestamp(),) * 2)
    ingest_days(con, paths.landing, "asterisk", [DAY])
    assert con.execute("select max(delivery_date)::varchar from raw.load_audit").fetchone()[0] == "2026-12-25"
    con.close()

    done = run_dbt(paths.data, "build", "--select", "+int_ra_completeness_checked", "+int_zone_offsets_tabulated",
                   "--exclude", "test_type:unit")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    with duckdb.connect(str(paths.warehouse), read_only=True) as built:
        span = built.execute(
            "select min(local_at)::date::varchar, max(local_at)::date::varchar "
            "from intermediate.int_zone_offsets_tabulated"
        ).fetchone()
        findings = built.execute(
            "select finding_type, subject from intermediate.int_ra_completeness_checked "
            "where finding_type = 'file_refused'"
        ).fetchall()
    # the span is the loaded day less 62 days to it plus 3, not to Christmas
    assert span[1] is not None and span[1] <= "2026-10-04", span
    assert findings == [("file_refused", "asterisk/misplaced.csv")], findings
