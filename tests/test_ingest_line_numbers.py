"""Line numbers on large files: every accepted row's `line_no` is its physical line number.

The fast path gets line numbers from DuckDB's parallel CSV scan only indirectly (the complement of rejected and
blank lines, in scan order), so it is checked here where that is hardest: files of tens of thousands of lines
(up to 16 MB each, 80 MB in all), many files of a variant in one scan, gzip and plain, LF and CRLF, with
bad lines sprinkled at random and planted on every 1 MB and 1 MiB boundary. Each good line carries its own
line number (Asterisk uniqueid `<file>.<line>`, carrier record_id `<file>.<line>`), so SQL can compare.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import duckdb
import pyarrow as pa
import pytest

from orchestration.ingestion.layouts import CARRIER_COLUMNS
from orchestration.ingestion.load import ingest_day
from orchestration.settings import Paths
from tests.conftest import land

DAY = date(2026, 10, 1)
D = DAY.isoformat()
SEED = 20261001

# Bad line kinds and the reject reason each must get.
REASONS = {
    "garbage": "unparseable_row",  # no delimiter at all
    "quote": "unparseable_row",  # an unescaped quote inside a quoted field
    "truncated": "wrong_column_count",  # cut at a field boundary: commas, too few columns
    "extra": "wrong_column_count",  # one column too many
    "utf8": "encoding_error",  # an invalid UTF-8 byte in an otherwise good line
    "blank": "blank_line",
}
# Byte offsets (of the decompressed text) at which a bad line is planted: DuckDB splits files into buffers
# and per-thread ranges at round sizes, so rejects and blank lines straddling them are the risky ones.
BOUNDARIES = sorted({k * 1_000_000 for k in range(1, 40)} | {k << 20 for k in range(1, 40)})


@dataclass(frozen=True)
class Spec:
    name: str
    source: str
    width: int  # columns per good line
    lines: int  # physical lines, header included
    gz: bool = False
    crlf: bool = False
    trailing_newline: bool = True
    forced: dict[int, str] = field(default_factory=dict)  # line_no -> bad kind


SPECS = (
    # 18-column LF files: one scan over four files, two of them gzip
    Spec("f0_20261001T00Z.csv", "asterisk", 18, 60_000, forced={60_000: "blank", 59_999: "blank"}),
    Spec("f1_20261001T01Z.csv.gz", "asterisk", 18, 45_000, gz=True, forced={1: "blank", 2: "garbage", 3: "blank"}),
    Spec("f2_20261001T02Z.csv", "asterisk", 18, 30_000, trailing_newline=False),
    Spec("f3_20261001T03Z.csv.gz", "asterisk", 18, 20_000, gz=True, forced={20_000: "utf8"}),
    # 21-column CRLF files: a second scan
    Spec("f4_20261001T04Z.csv", "asterisk", 21, 40_000, crlf=True, forced={40_000: "extra"}),
    Spec("f5_20261001T05Z.csv.gz", "asterisk", 21, 25_000, gz=True, crlf=True, forced={1: "garbage"}),
    # a 17-column file alone in its scan (DuckDB may split one file between threads)
    Spec("f6_20261001T06Z.csv", "asterisk", 17, 55_000, forced={1: "quote", 2: "truncated"}),
    # carrier CSV with a header
    Spec("f7_20261001T07Z.csv", "carrier", 15, 30_000, forced={2: "blank", 30_000: "truncated"}),
    Spec("f8_20261001T08Z.csv.gz", "carrier", 15, 20_000, gz=True, forced={2: "utf8"}),
)


@dataclass
class Generated:
    spec: Spec
    content: bytes  # as landed (gzip-compressed for .gz)
    header_lines: int
    good: int
    rejects: list[tuple[int, str, str]]  # (line_no, reason, raw_line as stored)
    straddling: list[int]  # bad lines planted across a 1 MB or 1 MiB boundary of the text


def _q(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _asterisk_fields(rng: random.Random, width: int) -> list[str]:
    """An Asterisk cdr_csv row in the switch's own quoting, varied in length, quoted commas and quotes included."""
    src = "".join(rng.choices("0123456789", k=rng.randint(4, 15)))
    name = rng.choice(["Ann", 'Bob "the boss" Lee', "Zoë Ørsted", "", "Müller, Hans"])
    clid = f'"{name}" <{src}>' if name else src
    answered = rng.random() < 0.7
    fields = [
        _q(f"ACC{rng.randint(1, 999)}"),
        _q(src),
        _q("0049301234" + str(rng.randint(0, 99_999))),
        _q("from-trunk"),
        _q(clid),
        _q(f"SIP/tr1-{rng.randint(0, 1 << 32):08x}"),
        _q(f"SIP/rt1-{rng.randint(0, 1 << 32):08x}" if answered else ""),
        _q("Dial"),
        _q(f"SIP/rt1/00493012345678,{rng.randint(30, 120)},tT"),  # Dial arguments: commas inside quotes
        _q("2026-10-01 12:00:00"),
        _q("2026-10-01 12:00:03" if answered else ""),
        _q("2026-10-01 12:00:08"),
        str(rng.randint(0, 7200)),
        str(rng.randint(0, 7200) if answered else 0),
        _q("ANSWERED" if answered else rng.choice(["NO ANSWER", "BUSY", "FAILED"])),
        _q("DOCUMENTATION"),
        "",  # uniqueid: the line's tag
        _q(rng.choice(["", "userfield", "a,b"])),
        _q(""),
        "",  # linkedid: the line's tag again
        str(rng.randint(1, 99)),
    ]
    return fields[:width]


def _carrier_fields(rng: random.Random) -> list[str]:
    duration = rng.randint(0, 7200)
    return [
        "",  # record_id: the line's tag
        rng.choice(["complete", "partial"]),
        f"C{rng.randint(0, 10**9)}",
        str(rng.randint(1, 5)),
        rng.choice(["0", "1", ""]),
        _q(f"TRK{rng.randint(1, 99)}") if rng.random() < 0.2 else f"TRK{rng.randint(1, 99)}",
        "+1212555" + str(rng.randint(0, 9999)).zfill(4),
        "01144207" + str(rng.randint(0, 10**7)),
        "2026-10-01T12:00:00Z",
        "2026-10-01T12:00:02Z",
        "2026-10-01T12:01:02Z",
        str(duration),
        str(max(duration - 2, 0)),
        str(rng.choice([16, 17, 31])),
        _q(f"RT{rng.randint(1, 9)}, backup") if rng.random() < 0.1 else f"RT{rng.randint(1, 9)}",
    ]


def _bad_line(rng: random.Random, kind: str, fields: list[str], line_no: int) -> bytes:
    if kind == "blank":
        return b""
    if kind == "garbage":
        return f"garbage without any delimiter at line {line_no}".encode()
    if kind == "quote":  # a quoted field with bare quotes inside: the reader cannot tell where it ends
        fields = [*fields]
        fields[3] = f'"from "trunk" {line_no}"'
        return ",".join(fields).encode()
    if kind == "truncated":  # a write cut off at a field boundary
        return ",".join(fields[: rng.randint(2, len(fields) - 1)]).encode()
    if kind == "extra":
        return ",".join([*fields, _q("extra")]).encode()
    if kind == "utf8":
        line = ",".join(fields).encode()
        cut = line.index(b",") + 2  # inside the second field
        return line[:cut] + rng.choice([b"\xff", b"\xc3\x28", b"\xe2\x82"]) + line[cut:]
    raise AssertionError(kind)


@cache
def generate(spec_index: int) -> Generated:
    """One landed file, deterministic: good lines carry `<file>.<line>`, bad lines are recorded as rejects."""
    spec = SPECS[spec_index]
    rng = random.Random(SEED * 100 + spec_index)
    newline = b"\r\n" if spec.crlf else b"\n"
    out: list[bytes] = []
    offset, boundary = 0, 0
    header_lines, good = 0, 0
    rejects: list[tuple[int, str, str]] = []
    straddling: list[int] = []
    if spec.source == "carrier":
        out.append(",".join(CARRIER_COLUMNS).encode() + newline)
        offset += len(out[-1])
        header_lines = 1
    kinds = list(REASONS)
    # rows drawn from a pool of varied templates (generating every field of every line is slow), tagged
    if spec.source == "carrier":
        pool, tagged = [_carrier_fields(rng) for _ in range(997)], [(0, False)]
    else:
        pool = [_asterisk_fields(rng, spec.width) for _ in range(997)]
        tagged = [(pos, True) for pos in (16, 19) if pos < spec.width]
    for line_no in range(header_lines + 1, spec.lines + 1):
        fields = [*pool[rng.randrange(len(pool))]]
        for pos, quoted in tagged:
            fields[pos] = _q(f"{spec_index}.{line_no}") if quoted else f"{spec_index}.{line_no}"
        line = ",".join(fields).encode()
        last = line_no == spec.lines
        end = offset + len(line) + (len(newline) if not last or spec.trailing_newline else 0)
        while boundary < len(BOUNDARIES) and BOUNDARIES[boundary] < offset:
            boundary += 1
        on_boundary = boundary < len(BOUNDARIES) and BOUNDARIES[boundary] < end
        kind = spec.forced.get(line_no)
        if kind is None and (on_boundary or rng.random() < 0.003):
            kind = rng.choice(kinds)
            if kind == "blank" and last and not spec.trailing_newline:
                kind = "garbage"  # an empty last line without a newline is no line at all
        if kind is not None:
            line = _bad_line(rng, kind, fields, line_no)
            rejects.append((line_no, REASONS[kind], line.decode("utf-8", "backslashreplace")))
            if on_boundary:
                straddling.append(line_no)
        else:
            good += 1
        out.append(line + (newline if not last or spec.trailing_newline else b""))
        offset += len(out[-1])
    data = b"".join(out)
    content = gzip.compress(data, compresslevel=1, mtime=0) if spec.gz else data
    return Generated(spec, content, header_lines, good, rejects, straddling)


def _expected_tables(con) -> None:
    files = [generate(i) for i in range(len(SPECS))]
    con.register(
        "_exp_files",
        pa.table(
            {
                "path": [f"{g.spec.source}/{D}/{g.spec.name}" for g in files],
                "file_index": [str(i) for i in range(len(files))],
                "width": [g.spec.width for g in files],
                "lines": [g.spec.lines for g in files],
                "header_lines": [g.header_lines for g in files],
                "good": [g.good for g in files],
                "rejected": [len(g.rejects) for g in files],
            }
        ),
    )
    con.register(
        "_exp_rejects",
        pa.table(
            {
                "path": [f"{g.spec.source}/{D}/{g.spec.name}" for g in files for _ in g.rejects],
                "line_no": pa.array([r[0] for g in files for r in g.rejects], pa.int64()),
                "reason": [r[1] for g in files for r in g.rejects],
                "raw_line": [r[2] for g in files for r in g.rejects],
            }
        ),
    )


# Every raw row with the file it came from and the line number it carries in its own text.
RAW_ROWS = f"""
    select a.path, e.file_index, r.line_no, r.n_fields, split_part(r.tag, '.', 1) as tag_file,
           try_cast(split_part(r.tag, '.', 2) as bigint) as tag_line
    from (select file_id, line_no, n_fields, uniqueid as tag from raw.asterisk__cdr
          union all
          select file_id, line_no, n_fields, record_id from raw.carrier__cdr) r
    join raw.load_audit a using (file_id)
    join _exp_files e using (path)
    where a.delivery_date = '{D}'
"""


@pytest.fixture(scope="module", params=[2, 8], ids=lambda n: f"threads{n}")
def loaded(request, tmp_path_factory):
    """All files landed and loaded once per thread count (more threads than this machine's 2 cores included);
    the tests below only read the result."""
    paths = Paths(tmp_path_factory.mktemp("line_numbers"))
    for i, spec in enumerate(SPECS):
        land(paths, spec.source, D, spec.name, generate(i).content)
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.warehouse))
    con.execute(f"set threads = {request.param}")
    loads = [ingest_day(con, paths.landing, source, DAY) for source in ("asterisk", "carrier")]
    _expected_tables(con)
    yield con, loads
    con.close()


def test_lines_across_the_readers_buffer_boundaries_are_rejects_with_their_reasons(loaded):
    """The lines planted across each 1 MB and 1 MiB boundary (where DuckDB cuts buffers and thread ranges) are
    each one reject, at their own line number, with their reason; and the loader gives every reason."""
    con, _ = loaded
    planted = {
        (f"{g.spec.source}/{D}/{g.spec.name}", line_no): reason
        for g in map(generate, range(len(SPECS)))
        for line_no, reason, _ in g.rejects
        if line_no in g.straddling
    }
    assert len(planted) > 60  # 80 MB of text: every boundary of every file is crossed by a planted line
    got = {
        (path, line_no): reason
        for path, line_no, reason in con.execute(
            "select a.path, j.line_no, j.reason from raw.rejects j join raw.load_audit a using (file_id)"
        ).fetchall()
    }
    assert {key: got.get(key) for key in planted} == planted
    assert set(got.values()) == set(REASONS.values())


def test_every_row_carries_its_own_line_number(loaded):
    con, _ = loaded
    total, mismatched, wrong_file, wrong_width = con.execute(
        f"""select count(*), count(*) filter (tag_line is distinct from line_no),
                   count(*) filter (tag_file <> file_index), count(*) filter (n_fields <> width)
            from ({RAW_ROWS}) join _exp_files using (path, file_index)"""
    ).fetchone()
    examples = con.execute(
        f"select path, line_no, tag_line from ({RAW_ROWS}) where tag_line is distinct from line_no "
        "order by path, line_no limit 5"
    ).fetchall()
    assert (mismatched, wrong_file, wrong_width) == (0, 0, 0), examples
    assert total == sum(generate(i).good for i in range(len(SPECS)))


def test_rows_and_rejects_cover_each_file_exactly_once(loaded):
    con, _ = loaded
    duplicates = con.execute(
        f"""select path, line_no, count(*) from (
                select path, line_no from ({RAW_ROWS})
                union all
                select a.path, j.line_no from raw.rejects j join raw.load_audit a using (file_id)
            ) group by all having count(*) > 1 order by 1, 2 limit 5"""
    ).fetchall()
    assert duplicates == []
    # every physical line 1..lines is a header line, a raw row or a reject; nothing else
    missing, extra = con.execute(
        f"""with expected as (
                select path, unnest(range(1, lines + 1)) as line_no from _exp_files
            ),
            covered as (
                select path, line_no from ({RAW_ROWS})
                union all
                select a.path, j.line_no from raw.rejects j join raw.load_audit a using (file_id)
                union all
                select path, unnest(range(1, header_lines + 1)) from _exp_files
            )
            select (select count(*) from (from expected except from covered)),
                   (select count(*) from (from covered except from expected))"""
    ).fetchone()
    assert (missing, extra) == (0, 0)


def test_rejects_are_exactly_the_planted_lines_with_their_reasons(loaded):
    con, _ = loaded
    got = con.execute(
        """select a.path, j.line_no, j.reason, j.raw_line, j.source
           from raw.rejects j join raw.load_audit a using (file_id) order by 1, 2"""
    ).fetchall()
    expected = con.execute(
        "select path, line_no, reason, raw_line, split_part(path, '/', 1) from _exp_rejects order by 1, 2"
    ).fetchall()
    wrong = [(g, e) for g, e in zip(got, expected, strict=False) if g != e][:5]
    assert (len(got), wrong) == (len(expected), [])


def test_every_file_takes_the_fast_path_with_counts_that_add_up(loaded):
    con, loads = loaded
    audit = con.execute(
        """select a.path, a.status, a.parse_path, a.lines, a.header_lines, a.rows_loaded, a.rows_rejected
           from raw.load_audit a order by a.path"""
    ).fetchall()
    expected = con.execute(
        "select path, 'loaded', 'fast', lines, header_lines, good, rejected from _exp_files order by path"
    ).fetchall()
    assert audit == expected
    files = [f for load in loads for f in load.files]
    assert [f.rows_loaded + f.rows_rejected + f.header_lines - f.lines for f in files] == [0] * len(SPECS)
