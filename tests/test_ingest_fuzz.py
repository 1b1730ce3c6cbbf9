"""Property-based fuzzing of raw ingestion: whole files of each switch layout (Asterisk, FreeSWITCH mod_cdr_csv,
carrier CSV) with random damage, loaded through the real loader, checked line by line against a model that
reads each physical line on its own.

Properties, for every file: it is loaded (damage stays a minority, so the file is still its layout); every
physical line after the header is exactly one raw row or one reject; a line that reads as a row of the file's
width (valid UTF-8, no NUL, strict CSV) is the raw row at its own line number with exactly its fields (empty
fields NULL, empty fields past the width ignored as trailing delimiters, as DuckDB's reader does); any other
line is the reject at its number with a reason and its own text; nothing else is written. Damage: NUL
bytes, stray CR, quoted newlines, unbalanced quotes, missing and extra fields, invalid UTF-8, fields over
128 KB, blank lines, a truncated last line, no final newline, CRLF, gzip.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import date

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.ingestion.layouts import ASTERISK_COLUMNS, CARRIER_COLUMNS, FREESWITCH_COLUMNS
from orchestration.ingestion.load import ingest_days

DAY = date(2026, 10, 1)
# 15 examples per layout keep each test to a few seconds; TOLLHOUSE_FUZZ_EXAMPLES=500 for a longer hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("TOLLHOUSE_FUZZ_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Shape:
    source: str
    columns: tuple[str, ...]
    widths: tuple[int, ...]
    header: bool


SHAPES = {
    "asterisk": Shape("asterisk", ASTERISK_COLUMNS, (16, 17, 18, 21), header=False),
    "freeswitch": Shape("freeswitch", FREESWITCH_COLUMNS, (13, 15), header=False),
    "carrier": Shape("carrier", CARRIER_COLUMNS, (15,), header=True),
}

# Field text: any printable character, the delimiter and the quote included; never a line break, NUL or BOM
# (those are damage, added below).
VALUE = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff") | st.sampled_from(',"'),
    max_size=12,
)
DAMAGE = (
    "nul",
    "stray_cr",
    "quoted_newline",
    "unbalanced_quote",
    "missing_field",
    "extra_field",
    "invalid_utf8",
    "long_field",
    "blank",
    "spaces",
    "twice",
)
BYTE_DAMAGE = {"nul": b"\x00", "stray_cr": b"\r", "unbalanced_quote": b'"', "invalid_utf8": b"\xff"}


def render(fields: list[str], quoted: list[bool]) -> bytes:
    """One CSV line as a switch writes it: a field is quoted when asked or when it must be."""
    out = []
    for value, quote in zip(fields, quoted, strict=True):
        if quote or "," in value or '"' in value or value[:1].isspace():
            out.append('"' + value.replace('"', '""') + '"')
        else:
            out.append(value)
    return ",".join(out).encode()


@st.composite
def damaged(draw, fields: list[str], quoted: list[bool]) -> bytes:
    kind = draw(st.sampled_from(DAMAGE))
    line = render(fields, quoted)
    at = draw(st.integers(0, len(line)))
    k = draw(st.integers(0, len(fields) - 1))
    if kind == "nul":
        return line[:at] + b"\x00" + line[at:]
    if kind == "stray_cr":
        return line[:at] + b"\r" + line[at:]
    if kind == "unbalanced_quote":
        return line[:at] + b'"' + line[at:]
    if kind == "invalid_utf8":
        return line[:at] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xe2\x82", b"\x80"])) + line[at:]
    if kind == "blank":
        return b""
    if kind == "spaces":
        return b" " * draw(st.integers(1, 3))
    if kind == "twice":  # a second byte of damage somewhere in an already damaged line
        once = draw(damaged(fields, quoted))
        again = draw(st.integers(0, len(once)))
        return once[:again] + BYTE_DAMAGE[draw(st.sampled_from(sorted(BYTE_DAMAGE)))] + once[again:]
    if kind == "missing_field":
        return render(fields[:k] + fields[k + 1 :], quoted[:k] + quoted[k + 1 :])
    if kind == "extra_field":
        return render([*fields, draw(VALUE)], [*quoted, True])
    if kind == "quoted_newline":
        value = fields[k]
        cut = draw(st.integers(0, len(value)))
        return render([*fields[:k], value[:cut] + "\n" + value[cut:], *fields[k + 1 :]], quoted)
    # long_field: a field over the csv module's default limit (128 KB) is still a field
    long_value = "x" * draw(st.integers(131_073, 150_000))
    return render([*fields[:k], long_value, *fields[k + 1 :]], quoted)


@st.composite
def cdr_file(draw, shape: Shape) -> tuple[bytes, bool]:
    """(the decompressed text, gzip it?) of one file: good lines, a minority of damaged ones, in random order."""
    width = draw(st.sampled_from(shape.widths))
    bad = draw(st.integers(0, 3))
    good = draw(st.integers(2 * bad + 2, 2 * bad + 8))  # the good width wins the column-count vote
    lines: list[bytes] = []
    for index in range(good + bad):
        fields = draw(st.lists(VALUE, min_size=width, max_size=width))
        quoted = draw(st.lists(st.booleans(), min_size=width, max_size=width))
        lines.append(draw(damaged(fields, quoted)) if index < bad else render(fields, quoted))
    lines = draw(st.permutations(lines))
    if shape.header:
        lines = [",".join(shape.columns).encode(), *lines]
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    text = eol.join(lines)
    if lines[0] and draw(st.booleans()):  # a UTF-8 byte order mark, as Windows tools write one
        text = b"\xef\xbb\xbf" + text
    ending = draw(st.sampled_from(["newline", "none", "truncated"]))
    if ending == "newline":
        text += eol
    elif ending == "truncated" and len(lines) > 1:  # the last line cut short, as by an interrupted write
        last = len(text) - len(lines[-1])
        text = text[: draw(st.integers(last, len(text)))]
    return text, draw(st.booleans())


def read_line(raw: bytes, width: int) -> list[str | None] | None:
    """The model: a physical line (its line ending removed; a file's byte order mark is not part of its first
    line) as a row of `width` fields, or None."""
    if not raw or b"\x00" in raw:
        return None
    try:
        text = raw.decode("utf-8")
        fields = next(csv.reader([text], strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    while len(fields) > width and not fields[-1]:  # empty fields past the width are trailing delimiters
        fields.pop()
    return [v or None for v in fields] if len(fields) == width else None


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("set preserve_insertion_order = true")
    yield con, folder / "landing"
    con.close()


def load_and_check(warehouse, shape: Shape, files: list[tuple[bytes, bool]]) -> None:
    con, landing = warehouse
    day_folder = landing / shape.source / DAY.isoformat()
    shutil.rmtree(landing, ignore_errors=True)
    day_folder.mkdir(parents=True)
    delivered = {}
    for index, (text, gz) in enumerate(files):
        name = f"f{index}_20261001T0{index}Z.csv" + (".gz" if gz else "")
        content = gzip.compress(text, mtime=0) if gz else text
        (day_folder / name).write_bytes(content)
        delivered[f"{shape.source}/{DAY}/{name}"] = (text, content)

    loads = ingest_days(con, landing, shape.source, [DAY])

    (load,) = loads
    by_path = {f.rel_path: f for f in load.files}
    assert sorted(by_path) == sorted(delivered)
    assert loads.refused == []
    first_seen: set[str] = set()
    for path, (text, content) in sorted(delivered.items()):
        f = by_path[path]
        physical = text.split(b"\n")
        if text.endswith(b"\n"):
            physical.pop()
        physical = [line.removesuffix(b"\r") for line in physical]
        texts = list(physical)  # rejects keep the bytes as delivered, a byte order mark included
        if physical:
            physical[0] = physical[0].removeprefix(b"\xef\xbb\xbf")
        sha = hashlib.sha256(content).hexdigest()
        header = 1 if shape.header else 0
        if sha in first_seen:  # the same bytes twice in one day: the second is a re-delivery
            assert (f.status, f.rows_loaded, f.rows_rejected) == ("redelivery", 0, 0)
            continue
        first_seen.add(sha)
        assert (f.status, f.reason) == ("loaded", None), physical[:5]
        assert f.lines == len(physical)
        width = f.n_fields
        assert width in shape.widths
        columns = ", ".join(f'"{c}"' for c in shape.columns[:width])
        rows = {
            line_no: list(values)
            for line_no, *values in con.execute(
                f"select line_no, {columns} from raw.{shape.source}__cdr where file_id = ?", [f.file_id]
            ).fetchall()
        }
        rejects = {
            line_no: (reason, raw_line)
            for line_no, reason, raw_line in con.execute(
                "select line_no, reason, raw_line from raw.rejects where file_id = ?", [f.file_id]
            ).fetchall()
        }
        assert len(rows) + len(rejects) == len(physical) - header == f.rows_loaded + f.rows_rejected
        for line_no, raw in enumerate(physical[header:], start=header + 1):
            expected = read_line(raw, width)
            if expected is not None:
                assert rows.get(line_no) == expected, (line_no, raw[:200], rejects.get(line_no))
                continue
            assert line_no in rejects and line_no not in rows, (line_no, raw[:200], rows.get(line_no))
            reason, kept = rejects[line_no]
            assert kept == texts[line_no - 1].decode("utf-8", "backslashreplace"), line_no
            if not raw:
                assert reason == "blank_line"
            elif b"\x00" in raw or kept != texts[line_no - 1].decode("utf-8", "replace"):
                assert reason == "encoding_error", (line_no, raw[:200], reason)
            else:
                assert reason in ("unparseable_row", "wrong_column_count"), (line_no, raw[:200], reason)
    # nothing but these files' rows, rejects and audit rows
    (audited,) = con.execute("select count(*) from raw.load_audit where source = ?", [shape.source]).fetchone()
    assert audited == len(files)
    (stray_rows,) = con.execute(
        f"select count(*) from raw.{shape.source}__cdr where file_id not in (select file_id from raw.load_audit)"
    ).fetchone()
    assert stray_rows == 0


@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_every_physical_line_is_its_own_row_or_reject(warehouse, layout):
    shape = SHAPES[layout]

    @FUZZ
    @given(st.lists(cdr_file(shape), min_size=1, max_size=3))
    def check(files):
        load_and_check(warehouse, shape, files)

    check()
