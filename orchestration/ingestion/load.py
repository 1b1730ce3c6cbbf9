"""Raw ingestion: load one source's files delivered on a range of days into the warehouse, losing no line.

Every physical line of a readable file ends up either as a row of `raw.<source>__<entity>` or as a row of
`raw.rejects` with a reason and its original text; every file gets a row in `raw.load_audit`. A file whose
bytes another file of the source delivered first is a re-delivery and loads nothing; a file that cannot be
read as its layout (corrupt gzip, binary, wrong header, unknown column count) is quarantined while the rest
of the day loads. Days load in chunks of about 1 GB; each chunk first removes what earlier loads of its days
wrote, in the same transaction: re-running is idempotent. Every load then lists each file under the landing
area that is not directly in a `<source>/<YYYY-MM-DD>/` folder as `refused`, with the reason (`refuse_strays`).

How lines are parsed (chosen by measurement, see docs/ingestion.md): DuckDB's parallel CSV reader with
`store_rejects` reads all files of one layout variant in one scan. It reports exact line numbers for
rejected lines, skips blank lines silently and has no line-number column, so accepted rows are mapped to
line numbers as the complement of rejected and blank lines, in scan order (insertion order is preserved).
A file with a stray carriage return, mixed line endings or a NUL byte (decided from its bytes), or whose
counts do not add up (a quoted newline), that the reader refuses, or one of whose rejected lines is a valid
row on its own, is parsed line by line in Python instead: slow, exact, and only for such files.

A FreeSWITCH mod_json_cdr file holds one CDR as one JSON document: it is parsed in Python (`parse_path = json`),
counts as one line in the audit, and becomes one 15-column row of the mod_cdr_csv table or one reject.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pyarrow as pa

from orchestration.ingestion.layouts import SOURCES, Layout, layouts_for, match_layout
from orchestration.ingestion.sniff import HEAD_BYTES, unsupported_layout
from orchestration.warehouse import migrate

# DuckDB reject error types -> our reject reasons (docs/ingestion.md).
_DUCKDB_REASONS = {
    "TOO MANY COLUMNS": "wrong_column_count",
    "MISSING COLUMNS": "wrong_column_count",
    "INVALID ENCODING": "encoding_error",
    "INVALID UNICODE": "encoding_error",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
}
_SNIFF_LINES = 200  # lines read to decide a headerless file's column count
# The longest line loaded, in bytes, on both paths (DuckDB's max_line_size; its default is about this).
MAX_LINE_BYTES = 2_000_000
csv.field_size_limit(MAX_LINE_BYTES)  # the csv module's default (128 KB) would make a long field an error
_BLANK_LINE = re.compile(rb"(?m)^\r?$")


@dataclass
class LandedFile:
    """One landed file after inspection, before parsing."""

    path: Path
    rel_path: str
    source: str
    delivery_date: date
    size_bytes: int
    sha256: str
    compression: str
    layout: Layout | None = None
    lines: int | None = None
    header_lines: int = 0
    n_fields: int | None = None
    crlf: bool = False
    # Why the fast reader's records may not be the file's physical lines (it would split a line at a stray \r,
    # or merge lines): such files take the exact path whatever the reader's totals say.
    exact_only: str | None = None
    reject_texts: dict[int, bytes] | None = None  # rejected lines' bytes, read once when the scan is verified
    blank_lines: list[int] = field(default_factory=list)
    status: str = "loaded"
    reason: str | None = None
    duplicate_of: str | None = None
    parse_path: str | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    # one-JSON-document files, parsed when inspected: the layout's column values, or (reason, detail, text)
    json_values: list[str | None] | None = None
    json_reject: tuple[str, str, str] | None = None

    @property
    def file_id(self) -> str:
        return hashlib.sha256(f"{self.source}/{self.rel_path}".encode()).hexdigest()[:16]

    def quarantine(self, reason: str) -> None:
        self.status, self.reason = "quarantined", reason

    def content(self) -> bytes:
        """The decompressed bytes, read again: only files with rejects or odd files need them twice,
        and not holding a month of files in memory keeps a range load's footprint small."""
        raw = self.path.read_bytes()
        return gzip.decompress(raw) if self.compression == "gzip" else raw


@dataclass
class DayLoad:
    source: str
    delivery_date: date
    files: list[LandedFile]

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)

    @property
    def lines(self) -> int:
        """Data lines of loaded files (header lines excluded): rows + rejects."""
        return sum((f.lines or 0) - f.header_lines for f in self.files if f.status == "loaded")

    @property
    def rows(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rejects(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def quarantined(self) -> list[LandedFile]:
        return [f for f in self.files if f.status == "quarantined"]


def inspect_file(path: Path, landing: Path, source: str, delivery_date: date) -> LandedFile:
    """Read, checksum and decompress one file, and decide its layout variant (a one-JSON-document file is also
    parsed: it is small and already in memory). No warehouse access."""
    raw = path.read_bytes()
    landed = LandedFile(
        path=path,
        rel_path=path.relative_to(landing).as_posix(),
        source=source,
        delivery_date=delivery_date,
        size_bytes=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        compression="gzip" if path.name.endswith(".gz") else "none",
        layout=match_layout(source, path.name),
    )
    if landed.compression == "gzip":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            landed.quarantine(f"corrupt_gzip: {exc}")
            return landed
    if landed.layout is None:
        landed.quarantine(f"unknown_layout: no {source} layout matches the file name {path.name!r}")
        return landed
    if landed.layout.json_document:
        if b"\x00" in raw:
            landed.quarantine("unknown_layout: binary content (NUL bytes)")
            return landed
        # One document is one record: the audit counts it as one line, so lines = rows + rejects still holds.
        # An empty file holds no record (0 lines) and, like an empty CSV file, is never a copy of another.
        landed.lines, landed.n_fields = (1 if raw else 0), len(landed.layout.columns)
        if raw:
            _parse_json_document(landed, raw)
        return landed
    landed.lines = raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0)
    landed.crlf = b"\r\n" in raw
    crlfs = raw.count(b"\r\n") if landed.crlf else 0
    # an LF file pays one memchr for this, not a count
    if (raw.count(b"\r") != crlfs) if landed.crlf else (b"\r" in raw):
        landed.exact_only = "stray carriage return"
    elif landed.crlf and crlfs != raw.count(b"\n"):
        landed.exact_only = "mixed line endings"
    elif b"\x00" in raw:
        landed.exact_only = "NUL bytes"
    if b"\n\n" in raw or b"\n\r\n" in raw or raw.startswith((b"\n", b"\r\n")):
        landed.blank_lines = [
            raw.count(b"\n", 0, m.start()) + 1 for m in _BLANK_LINE.finditer(raw) if m.start() < len(raw)
        ]
    _detect_variant(landed, raw)
    return landed


def _first_lines(data: bytes, n: int) -> list[str]:
    head = data[: 4096 * n].split(b"\n", n)[:n]
    return [line.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r") for line in head]


def _detect_variant(landed: LandedFile, data: bytes) -> None:
    """Header layouts must carry the exact header; headerless ones must have an allowed column count."""
    layout = landed.layout
    assert layout is not None
    if landed.lines == 0:
        landed.n_fields = len(layout.columns)
        return
    if layout.has_header:
        try:
            header = next(csv.reader(_first_lines(data, 1)), [])
        except csv.Error as exc:
            landed.quarantine(f"unknown_layout: {exc}")
            return
        if tuple(h.strip().lower() for h in header) != layout.columns:
            landed.quarantine(f"unknown_layout: header {header[:6]}... is not the {layout.table} header")
            return
        landed.header_lines, landed.n_fields = 1, len(layout.columns)
        return
    # The width most sampled lines read as; a bad line (stray \r, NUL, broken quotes) is left out of the vote
    # and becomes a reject. Only a file none of whose sampled lines reads as CSV is not this layout.
    sample = [line for line in _first_lines(data, _SNIFF_LINES) if line.strip()]
    widths: Counter[int] = Counter()
    errors: list[str] = []
    for line in sample:
        if "\x00" in line:
            continue
        try:
            widths.update(len(row) for row in csv.reader([line]))
        except csv.Error as exc:
            errors.append(str(exc))
    if sample and not widths:  # bare \r line endings, binary content
        what = "binary content (NUL bytes)" if any("\x00" in line for line in sample) else errors[0]
        landed.quarantine(f"unknown_layout: no line of the first {len(sample)} reads as CSV: {what}")
        return
    width = max(widths, key=lambda w: (widths[w], w)) if widths else len(layout.columns)
    if width not in layout.allowed_widths:
        landed.quarantine(f"unknown_layout: lines have {width} columns, {layout.table} allows {layout.allowed_widths}")
        return
    landed.n_fields = width


def _has_data(f: LandedFile) -> bool:
    return f.status == "loaded" and (f.lines or 0) > f.header_lines


def _mark_redeliveries(
    con: duckdb.DuckDBPyConnection, source: str, days: list[date], files: Sequence[LandedFile]
) -> dict[str, str]:
    """The first delivery of some bytes loads; every other delivery of the same bytes, in the same source, is a
    re-delivery. First means earliest (delivery day, path), whatever order days are loaded in: when a backfill
    loads an earlier day after a later one, the later copy must be demoted. Files with no data line (empty, or
    a header only) are never copies of each other. Reads the audit of the other days only (this chunk's days
    are about to be replaced); returns the demotions, {file_id loaded before: the earlier file it copies}."""
    candidates = sorted(filter(_has_data, files), key=lambda f: (f.delivery_date, f.rel_path))
    loaded = con.execute(
        "select sha256, file_id, delivery_date, path from raw.load_audit "
        "where source = $source and status = 'loaded' and lines > header_lines "
        "and delivery_date not in (select unnest($days::date[])) "
        "and sha256 in (select unnest($shas::varchar[]))",
        {"source": source, "days": days, "shas": [f.sha256 for f in candidates]},
    ).fetchall()
    first: dict[str, tuple[tuple[date, str], str]] = {}
    for sha, file_id, day, path in loaded:
        if sha not in first or (day, path) < first[sha][0]:
            first[sha] = ((day, path), file_id)
    demotions: dict[str, str] = {}
    for f in candidates:
        known = first.get(f.sha256)
        if known and known[0] < (f.delivery_date, f.rel_path):
            f.status, f.duplicate_of = "redelivery", known[1]
            continue
        if known:
            demotions[known[1]] = f.file_id
        first[f.sha256] = ((f.delivery_date, f.rel_path), f.file_id)
    return demotions


def _demote(con: duckdb.DuckDBPyConnection, source: str, demotions: dict[str, str]) -> None:
    """Turn files loaded by earlier runs into re-deliveries of the earlier copies this load found."""
    for file_id, original in demotions.items():
        for table in [layout.table for layout in layouts_for(source)] + ["rejects"]:
            con.execute(f"delete from raw.{table} where file_id = ?", [file_id])
        con.execute(
            "update raw.load_audit set status = 'redelivery', duplicate_of = $original, rows_loaded = 0, "
            "rows_rejected = 0, parse_path = null where file_id = $demoted",
            {"original": original, "demoted": file_id},
        )
        # re-deliveries that pointed at the demoted file now point at the first delivery
        con.execute(
            "update raw.load_audit set duplicate_of = $original where duplicate_of = $demoted",
            {"original": original, "demoted": file_id},
        )


def _reader_options(layout: Layout, width: int) -> dict:
    return {
        "columns": {name: "VARCHAR" for name in layout.columns[:width]},
        "header": layout.has_header,
    }


@dataclass
class Scan:
    """Files of one layout variant read by one DuckDB scan into temporary tables, ready to store."""

    layout: Layout
    width: int
    files: list[LandedFile]
    accepted: str  # temp table of accepted rows, in scan order
    rejected: str  # temp table of (filename, line_no, error_type)


def _scan(con: duckdb.DuckDBPyConnection, group: list[LandedFile], tag: str) -> tuple[list[Scan], list[LandedFile]]:
    """Read one layout variant's files in one scan, outside any transaction (a scan DuckDB refuses fails only
    its own statement). Returns the scans to store and the files that need the exact, line-by-line path."""
    layout, width = group[0].layout, group[0].n_fields
    assert layout is not None and width is not None
    by_path = {str(f.path): f for f in group}
    accepted, rejects, scans, rejected = f"_acc_{tag}", f"_rej_{tag}", f"_scan_{tag}", f"_rejl_{tag}"
    con.execute(f"drop table if exists {rejects}; drop table if exists {scans}")
    try:
        con.execute(
            f"""create or replace temp table {accepted} as select * from read_csv(
                $files, columns = $columns, header = $header, delim = ',', quote = '"', escape = '"',
                filename = true, auto_detect = false, strict_mode = true, null_padding = false,
                max_line_size = {MAX_LINE_BYTES}, store_rejects = true, rejects_table = '{rejects}',
                rejects_scan = '{scans}')""",
            {"files": list(by_path), **_reader_options(layout, width)},
        )
    except duckdb.Error:
        if len(group) == 1:
            return [], group
        # One odd file spoils the scan: read each file alone so only the odd one goes the exact way.
        done: list[Scan] = []
        odd: list[LandedFile] = []
        for index, f in enumerate(group):
            more, odd_more = _scan(con, [f], f"{tag}_{index}")
            done, odd = done + more, odd + odd_more
        return done, odd
    con.execute(
        f"""create or replace temp table {rejected} as
            select s.file_path as filename, e.line as line_no, min(e.error_type) as error_type
            from {rejects} e join {scans} s using (scan_id, file_id) group by all"""
    )
    counts = dict(con.execute(f"select filename, count(*) from {accepted} group by 1").fetchall())
    rejected_counts = dict(con.execute(f"select filename, count(*) from {rejected} group by 1").fetchall())
    fast, odd = [], []
    for path, f in by_path.items():  # a file whose counts do not add up goes the exact way
        accounted = counts.get(path, 0) + rejected_counts.get(path, 0) + len(f.blank_lines) + f.header_lines
        (fast if accounted == f.lines else odd).append(f)
    # Counts can add up by accident; the lines the reader rejected must also be lines that are not rows on
    # their own. A rejected line that is a valid row means the reader's records were not the physical lines.
    rejected_at: dict[str, list[int]] = {}
    for path, line_no in con.execute(f"select filename, line_no from {rejected} order by 1, 2").fetchall():
        rejected_at.setdefault(path, []).append(line_no)
    for f in [f for f in fast if str(f.path) in rejected_at]:
        f.reject_texts = _line_bytes(f.content(), rejected_at[str(f.path)])
        if any(_read_line(text, width)[0] is not None for text in f.reject_texts.values()):
            f.reject_texts = None
            fast.remove(f)
            odd.append(f)
    return ([Scan(layout, width, fast, accepted, rejected)] if fast else []), odd


def _store_fast(con: duckdb.DuckDBPyConnection, scan: Scan) -> None:
    layout, width, files = scan.layout, scan.width, scan.files
    files_tbl = pa.table(
        {
            "filename": [str(f.path) for f in files],
            "file_id": [f.file_id for f in files],
            "first_line": [f.header_lines + 1 for f in files],
            "lines": [f.lines for f in files],
        }
    )
    blanks_tbl = pa.table(
        {
            "filename": [str(f.path) for f in files for _ in f.blank_lines],
            "line_no": pa.array([n for f in files for n in f.blank_lines], pa.int64()),
        }
    )
    con.register("_files", files_tbl)
    con.register("_blanks", blanks_tbl)
    cols = layout.sql_columns(width)
    # Files without rejects or blank lines: line = header + position in the file (scan order).
    # Others: the position-th line that is neither rejected nor blank.
    con.execute(
        f"""
        insert into raw.{layout.table} (file_id, line_no, n_fields, {cols})
        with excluded as (
            select filename, line_no from {scan.rejected} where filename in (select filename from _files)
            union all
            select filename, line_no from _blanks
        ),
        odd_files as (select distinct filename from excluded),
        kept as (
            select filename, line_no, row_number() over (partition by filename order by line_no) as pos
            from (select filename, unnest(range(first_line, lines + 1)) as line_no
                  from _files where filename in (select filename from odd_files)) all_lines
            anti join excluded using (filename, line_no)
        ),
        first_rows as (select filename, min(rowid) as first_rowid from {scan.accepted} group by filename),
        positioned as (
            -- scan order is file order (insertion order preserved), so a row's position in its file is
            -- its distance from the file's first row; a group-by, not a window over every column
            select a.*, a.rowid - f.first_rowid + 1 as pos from {scan.accepted} a join first_rows f using (filename)
        )
        select f.file_id,
               coalesce(k.line_no, f.first_line - 1 + p.pos) as line_no,
               {width} as n_fields,
               {cols}
        from positioned p
        join _files f using (filename)
        left join kept k on k.filename = p.filename and k.pos = p.pos
        """
    )
    reject_rows = con.execute(
        f"select filename, line_no, error_type from {scan.rejected} "
        "where filename in (select filename from _files) order by filename, line_no"
    ).fetchall()
    by_path = {str(f.path): f for f in files}
    rejects: list[tuple[LandedFile, int, str, str]] = []
    for filename, line_no, error_type in reject_rows:
        reason = _DUCKDB_REASONS.get(error_type, "unparseable_row")
        rejects.append((by_path[filename], line_no, reason, error_type.lower()))
    rejects += [(f, n, "blank_line", "empty line") for f in files for n in f.blank_lines]
    _store_rejects(con, rejects)
    loaded = dict(
        con.execute(
            f"select file_id, count(*) from raw.{layout.table} where file_id in (select file_id from _files) group by 1"
        ).fetchall()
    )
    for f in files:
        f.parse_path = "fast"
        f.rows_loaded = loaded.get(f.file_id, 0)
        f.rows_rejected = sum(1 for r in rejects if r[0] is f)
    con.unregister("_files")
    con.unregister("_blanks")


def _insert(con: duckdb.DuckDBPyConnection, table: str, batch: pa.Table) -> None:
    con.register("_batch", batch)
    try:
        con.execute(f"insert into {table} by name select * from _batch")
    finally:
        con.unregister("_batch")


def _line_bytes(data: bytes, line_nos: Iterable[int]) -> dict[int, bytes]:
    lines = data.split(b"\n")
    return {n: lines[n - 1].removesuffix(b"\r") for n in line_nos}


def _read_line(raw_line: bytes, width: int) -> tuple[list[str | None] | None, str, str]:
    """One physical line (its line ending removed) as a row of `width` fields, or (None, reason, detail)."""
    if not raw_line:
        return None, "blank_line", "empty line"
    if len(raw_line) > MAX_LINE_BYTES:
        return None, "line_too_long", f"{len(raw_line)} bytes, more than {MAX_LINE_BYTES}"
    try:
        text = raw_line.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        return None, "encoding_error", str(exc)[:200]
    if "\x00" in text:  # valid UTF-8, but no switch writes NUL into a CDR: a damaged line
        return None, "encoding_error", "NUL byte"
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        return None, "unparseable_row", str(exc)[:200]
    while len(fields) > width and fields[-1] == "":  # a trailing delimiter: as DuckDB's reader, no extra field
        fields.pop()
    if len(fields) != width:
        return None, *_root_cause(raw_line, "wrong_column_count", f"expected {width} columns, found {len(fields)}")
    return [v if v != "" else None for v in fields], "", ""


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _root_cause(raw: bytes, reason: str, detail: str) -> tuple[str, str]:
    """The reader reports one error per line; name the root cause. Invalid bytes come first whatever else
    it saw; a line without a single delimiter is not a row with a wrong count, it is not a row at all."""
    if not _is_utf8(raw):
        return "encoding_error", "invalid UTF-8"
    if reason == "wrong_column_count" and b"," not in raw:
        return "unparseable_row", "no field delimiter"
    return reason, detail


def _store_rejects(con: duckdb.DuckDBPyConnection, rejects: list[tuple[LandedFile, int, str, str]]) -> None:
    if not rejects:
        return
    texts: dict[str, dict[int, bytes]] = {}
    for f in {id(r[0]): r[0] for r in rejects}.values():
        wanted = [r[1] for r in rejects if r[0] is f]
        known = f.reject_texts or {}
        texts[f.file_id] = known if all(n in known for n in wanted) else _line_bytes(f.content(), wanted)
    rows = []
    for f, n, reason, detail in rejects:
        raw = texts[f.file_id][n]
        rows.append((f, n, *_root_cause(raw, reason, detail), raw.decode("utf-8", "backslashreplace")))
    _insert_rejects(con, rows)


def _insert_rejects(con: duckdb.DuckDBPyConnection, rejects: list[tuple[LandedFile, int, str, str, str]]) -> None:
    """Rows of raw.rejects: (file, line, reason, detail, original text)."""
    if not rejects:
        return
    batch = pa.table(
        {
            "file_id": [f.file_id for f, *_ in rejects],
            "source": [f.source for f, *_ in rejects],
            "line_no": pa.array([n for _, n, *_ in rejects], pa.int64()),
            "reason": [reason for _, _, reason, _, _ in rejects],
            "detail": [detail for _, _, _, detail, _ in rejects],
            "raw_line": [text for *_, text in rejects],
        }
    )
    _insert(con, "raw.rejects", batch)


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    layout: Layout,
    width: int,
    file_ids: list[str],
    line_nos: list[int],
    rows: list[list[str | None]],
) -> None:
    """Rows of the layout's raw table, each with its first `width` column values."""
    batch = pa.table(
        {
            "file_id": file_ids,
            "line_no": pa.array(line_nos, pa.int64()),
            "n_fields": pa.array([width] * len(rows), pa.int32()),
            **{name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(layout.columns[:width])},
        }
    )
    _insert(con, f"raw.{layout.table}", batch)


def _parse_exact(con: duckdb.DuckDBPyConnection, f: LandedFile) -> None:
    """Line-by-line parse of one odd file: every physical line is a row or a reject on its own."""
    layout, width = f.layout, f.n_fields
    assert layout is not None and width is not None
    data = f.content()
    rows: list[list[str | None]] = []
    line_nos: list[int] = []
    rejects: list[tuple[LandedFile, int, str, str]] = []
    raw_lines = data.split(b"\n")
    if data.endswith(b"\n"):
        raw_lines.pop()
    for line_no, raw_line in enumerate(raw_lines, start=1):
        if line_no <= f.header_lines:
            continue
        # one line ending removed; as on the fast path, only an empty line is blank
        fields, reason, detail = _read_line(raw_line.removesuffix(b"\r"), width)
        if fields is None:
            rejects.append((f, line_no, reason, detail))
            continue
        rows.append(fields)
        line_nos.append(line_no)
    _insert_rows(con, layout, width, [f.file_id] * len(rows), line_nos, rows)
    _store_rejects(con, rejects)
    f.parse_path, f.rows_loaded, f.rows_rejected = "exact", len(rows), len(rejects)


# FreeSWITCH mod_json_cdr -> the mod_cdr_csv columns. mod_cdr_csv writes `${name}`, which FreeSWITCH resolves to
# the channel variable `name`, else to the field `name` of the channel's caller profile (switch_channel.c); the
# JSON holds the variables under `variables` and the caller profiles under `callflow`, the channel's current
# one first. Where both are absent, a few variables that usually carry the same value are tried last.
_JSON_PROFILE_FIELDS = frozenset({"caller_id_name", "caller_id_number", "destination_number", "context", "uuid"})
_JSON_LAST_RESORT = {
    "caller_id_name": "effective_caller_id_name",
    "caller_id_number": "effective_caller_id_number",
    "context": "user_context",
}
_JSON_REJECT_TEXT = 2000  # characters of the document kept in raw.rejects


def _first_pair_wins(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """Keep the first occurrence of a repeated key. Old FreeSWITCH (2014) wrote every caller profile as another
    `callflow` key of the same object instead of an array; the first one is the channel's current profile,
    the one an array lists first, so keeping it reads both forms alike."""
    document: dict[str, object] = {}
    for key, value in pairs:
        document.setdefault(key, value)
    return document


def _json_text(value: object, url_encoded: bool) -> str | None:
    """A JSON value as raw text: None where mod_cdr_csv would write an empty field (raw stores those as NULL)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    # mod_json_cdr URL-encodes variable values unless `encode-values` is off ("2014-04-08%2021%3A10%3A21");
    # unquote leaves text without %XX escapes as it is. Caller profile fields are never encoded.
    return (unquote(text) if url_encoded else text) or None


def _json_cdr_values(document: dict, columns: Sequence[str]) -> list[str | None]:
    variables = document["variables"]
    assert isinstance(variables, dict)
    callflow = document.get("callflow")
    if isinstance(callflow, list):
        callflow = callflow[0] if callflow else None
    profile = callflow.get("caller_profile") if isinstance(callflow, dict) else None
    profile = profile if isinstance(profile, dict) else {}
    originatee = profile.get("originatee")
    bleg_profiles = originatee.get("originatee_caller_profiles") if isinstance(originatee, dict) else None
    bleg = bleg_profiles[0] if isinstance(bleg_profiles, list) and bleg_profiles else None
    values = []
    for name in columns:
        value = _json_text(variables.get(name), url_encoded=True)
        if value is None and name in _JSON_PROFILE_FIELDS:
            value = _json_text(profile.get(name), url_encoded=False)
        if value is None and name == "bleg_uuid" and isinstance(bleg, dict):  # ${bleg_uuid}: the B-leg profile
            value = _json_text(bleg.get("uuid"), url_encoded=False)
        if value is None and name in _JSON_LAST_RESORT:
            value = _json_text(variables.get(_JSON_LAST_RESORT[name]), url_encoded=True)
        values.append(value)
    # Start, answer and end stamps come only from the variables (the switch's local time, as mod_cdr_csv
    # writes them). Without them the row keeps them empty and mediation rejects it (bad_timestamp): the
    # callflow `times` are UTC epochs, and turning them into local stamps here would guess the time zone.
    return values


def _parse_json_document(f: LandedFile, raw: bytes) -> None:
    """One mod_json_cdr document: the layout's column values, or why it is not a CDR (one reject)."""
    assert f.layout is not None
    text = raw.decode("utf-8", "backslashreplace")[:_JSON_REJECT_TEXT]
    try:
        document = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_first_pair_wins)
    except UnicodeDecodeError as exc:
        f.json_reject = ("encoding_error", f"invalid UTF-8: {exc}"[:200], text)
        return
    except (ValueError, RecursionError) as exc:
        f.json_reject = ("unparseable_row", f"not valid JSON: {exc}"[:200], text)
        return
    if not isinstance(document, dict):
        f.json_reject = ("unparseable_row", f"the JSON document is {type(document).__name__}, not an object", text)
    elif not isinstance(document.get("variables"), dict):
        f.json_reject = ("unparseable_row", "no `variables` object: not a FreeSWITCH JSON CDR", text)
    else:
        f.json_values = _json_cdr_values(document, f.layout.columns[: f.n_fields])


def _store_json_documents(con: duckdb.DuckDBPyConnection, files: list[LandedFile]) -> None:
    """The one row or one reject of each one-JSON-document file (parsed when inspected), in one insert each."""
    for layout in {f.layout for f in files if f.layout is not None}:
        ok = [f for f in files if f.layout == layout and f.json_values is not None]
        if ok:
            width = len(layout.columns)
            _insert_rows(con, layout, width, [f.file_id for f in ok], [1] * len(ok), [f.json_values for f in ok])
    _insert_rejects(con, [(f, 1, *f.json_reject) for f in files if f.json_reject is not None])
    for f in files:
        f.parse_path = "json"
        f.rows_loaded, f.rows_rejected = int(f.json_values is not None), int(f.json_reject is not None)


def _delete_day(con: duckdb.DuckDBPyConnection, source: str, day: date) -> None:
    """Remove what an earlier load of this source and day wrote, so that re-loading replaces it."""
    ids = [
        row[0]
        for row in con.execute(
            f"select file_id from raw.load_audit where source = $source and delivery_date = $day "
            f"and not ({_PLACEMENT_FILTER})",
            {"source": source, "day": day, "reasons": list(PLACEMENT_REASONS)},
        ).fetchall()
    ]
    if not ids:
        return
    for table in [layout.table for layout in layouts_for(source)] + ["rejects", "load_audit"]:
        con.execute(f"delete from raw.{table} where file_id in (select unnest($ids::varchar[]))", {"ids": ids})


def _write_audit(con: duckdb.DuckDBPyConnection, files: Sequence[LandedFile], run_id: str | None) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    batch = pa.table(
        {
            "file_id": [f.file_id for f in files],
            "source": [f.source for f in files],
            "delivery_date": pa.array([f.delivery_date for f in files], pa.date32()),
            "path": [f.rel_path for f in files],
            "layout": [f.layout.table if f.layout else None for f in files],
            "size_bytes": pa.array([f.size_bytes for f in files], pa.int64()),
            "sha256": [f.sha256 for f in files],
            "compression": [f.compression for f in files],
            "lines": pa.array([f.lines for f in files], pa.int64()),
            "header_lines": pa.array([f.header_lines for f in files], pa.int32()),
            "n_fields": pa.array([f.n_fields for f in files], pa.int32()),
            "rows_loaded": pa.array([f.rows_loaded for f in files], pa.int64()),
            "rows_rejected": pa.array([f.rows_rejected for f in files], pa.int64()),
            "status": [f.status for f in files],
            "reason": [f.reason for f in files],
            "duplicate_of": [f.duplicate_of for f in files],
            "parse_path": [f.parse_path for f in files],
            "loaded_at": pa.array([now] * len(files), pa.timestamp("us")),
            "run_id": [run_id] * len(files),
        }
    )
    _insert(con, "raw.load_audit", batch)


def landed_files(landing: Path, source: str, day: date) -> list[Path]:
    folder = landing / source / day.isoformat()
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def day_folder_date(name: str) -> date | None:
    """The day a delivery-day folder name says, only in the one form the landing contract has (YYYY-MM-DD):
    Python reads `20261006` as a date too, but no loader would ever look in that folder."""
    if not _ISO_DAY.fullmatch(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def landed_day_folders(landing: Path, source: str) -> tuple[list[date], list[Path]]:
    """The delivery-day folders of a source, and the folders whose name is not a YYYY-MM-DD date."""
    days, strays = [], []
    folder = landing / source
    for child in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not child.is_dir():
            continue
        day = day_folder_date(child.name)
        if day is None:
            strays.append(child)
        else:
            days.append(day)
    return days, strays


# Why a file under the landing area is not where any load looks (<source>/<YYYY-MM-DD>/<file>). Such files
# are audited as `refused`, loading nothing; every load re-lists them all (see `refuse_strays`).
PLACEMENT_REASONS = {
    "not_in_a_source_folder": "in the landing area's root, not in a source folder",
    "unknown_source": "no source of that name is loaded ({known})",
    "not_in_a_day_folder": "in the source's folder, not in a YYYY-MM-DD delivery-day folder",
    "day_folder_not_iso": "its day folder's name is not YYYY-MM-DD",
    "nested_folder": "in a folder inside the delivery-day folder; files load only directly inside it",
}
NO_SOURCE = "(landing)"  # the audit's source for a file in the landing area's root
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})(-?)(\d{2})\2(\d{2})(?!\d)")


def _date_in(names: Sequence[str]) -> date | None:
    """The first valid date (YYYY-MM-DD or YYYYMMDD) in these path parts."""
    for name in names:
        for m in _DATE_IN_NAME.finditer(name):
            try:
                return date(int(m[1]), int(m[3]), int(m[4]))
            except ValueError:
                continue
    return None


def _placement(parts: tuple[str, ...]) -> tuple[str, str, date | None] | None:
    """(source, reason, delivery day if the path says it) of a misplaced file; None for a file in its place."""
    if len(parts) == 1:
        return NO_SOURCE, "not_in_a_source_folder", _date_in(parts)
    source, below = parts[0], parts[1:]
    if source not in SOURCES:
        return source, "unknown_source", _date_in(below)
    if len(below) == 1:
        return source, "not_in_a_day_folder", _date_in(below)
    day = day_folder_date(below[0])
    if day is None:
        return source, "day_folder_not_iso", _date_in(below)
    return (source, "nested_folder", day) if len(below) > 2 else None


def stray_files(landing: Path, known: dict[str, tuple[int, str, datetime]] | None = None) -> list[LandedFile]:
    """Every file under the landing area that no load would read, as a refused LandedFile with its reason.
    Its delivery day is the one its path names (day folder, a compact date folder, a date in the file
    name), else the day (UTC) it was last modified. `known`: {path: (size, sha256, audited at)} of refusals
    already audited, whose checksum is reused for a file unchanged since."""
    known = known or {}
    misplaced = []
    # os.walk reads file types from the directory listing: a year of well-placed files costs no stat each
    for folder, _, names in os.walk(landing):
        parts = Path(folder).relative_to(landing).parts
        if len(parts) == 2 and parts[0] in SOURCES and day_folder_date(parts[1]) is not None:
            continue  # a delivery-day folder: its files load; its subfolders are walked on
        misplaced += [(*parts, name) for name in names]
    strays = []
    for rel_parts in sorted(misplaced):
        rel, path = Path(*rel_parts), landing.joinpath(*rel_parts)
        placement = _placement(rel_parts)
        if placement is None:
            continue
        source, reason, day = placement
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)
        size, sha, audited_at = known.get(rel.as_posix(), (-1, "", datetime.min))
        if size != stat.st_size or audited_at <= modified:
            with path.open("rb") as handle:
                sha = hashlib.file_digest(handle, "sha256").hexdigest()
        detail = PLACEMENT_REASONS[reason].format(known=", ".join(SOURCES))
        if reason == "day_folder_not_iso":
            detail = f"{rel.parts[1]!r}: {detail}"
        stray = LandedFile(
            path=path,
            rel_path=rel.as_posix(),
            source=source,
            delivery_date=day or modified.date(),
            size_bytes=stat.st_size,
            sha256=sha,
            compression="gzip" if path.name.endswith(".gz") else "none",
        )
        stray.status, stray.reason = "refused", f"{reason}: {detail}"
        strays.append(stray)
    return strays


_PLACEMENT_FILTER = "status = 'refused' and split_part(reason, ':', 1) in (select unnest($reasons::varchar[]))"


def refuse_strays(con: duckdb.DuckDBPyConnection, landing: Path, run_id: str) -> list[LandedFile]:
    """Audit every misplaced file under the landing area as refused, replacing the previous list: a re-run
    never duplicates a refusal, and a file moved into its place (or removed) loses its refusal. Every load
    of any source runs this, so a file no source would read is still listed by the next load."""
    reasons = list(PLACEMENT_REASONS)
    known = {
        path: (size, sha, at)
        for path, size, sha, at in con.execute(
            f"select path, size_bytes, sha256, loaded_at from raw.load_audit where {_PLACEMENT_FILTER}",
            {"reasons": reasons},
        ).fetchall()
    }
    strays = stray_files(landing, known)
    con.execute("begin transaction")
    try:
        con.execute(f"delete from raw.load_audit where {_PLACEMENT_FILTER}", {"reasons": reasons})
        if strays:
            _write_audit(con, strays, run_id)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return strays


class Loads(list):
    """The DayLoads of a run, and `refused`: every misplaced file under the landing area (all sources)."""

    refused: list[LandedFile]


# A range is loaded in chunks of about this many decompressed bytes (~5 million CDR lines): large enough that
# inserts go straight to compressed blocks, small enough that a year's backfill never holds more than one
# chunk's scan in memory.
CHUNK_BYTES = 1_000_000_000
_GZIP_RATIO = 5  # to estimate a .gz file's decompressed size from its size on disk


def _chunk_days(landing: Path, source: str, days: Sequence[date]) -> list[list[tuple[date, list[Path]]]]:
    chunks: list[list[tuple[date, list[Path]]]] = [[]]
    size = 0
    for day in days:
        paths = landed_files(landing, source, day)
        day_size = sum(p.stat().st_size * (_GZIP_RATIO if p.name.endswith(".gz") else 1) for p in paths)
        if chunks[-1] and size + day_size > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append((day, paths))
        size += day_size
    return chunks


def _name_unsupported_layout(f: LandedFile) -> LandedFile:
    """A file no layout reads, or a headerless one whose column count fits by chance, that carries the signature
    of a known format tollhouse does not load is quarantined naming that format (orchestration/ingestion/sniff.py)."""
    unreadable = f.status == "quarantined" and (f.reason or "").startswith("unknown_layout")
    fits = f.status == "loaded" and f.layout is not None and not (f.layout.has_header or f.layout.json_document)
    if not (unreadable or (fits and f.lines)):
        return f
    with gzip.open(f.path) if f.compression == "gzip" else f.path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    name = unsupported_layout(head, fits=fits)
    if name:
        f.quarantine(f"unsupported_layout: {name}")
    return f


def _inspect_chunk(landing: Path, source: str, chunk: list[tuple[date, list[Path]]]) -> list[LandedFile]:
    with ThreadPoolExecutor(max_workers=2) as pool:  # hashing and gunzip release the GIL
        return list(pool.map(lambda item: _name_unsupported_layout(inspect_file(item[1], landing, source, item[0])),
                             [(day, p) for day, paths in chunk for p in paths]))  # fmt: skip


def _load_chunk(
    con: duckdb.DuckDBPyConnection, source: str, days: list[date], files: list[LandedFile], run_id: str
) -> None:
    """Replace what earlier loads wrote for `days` with `files`. Reading happens first, outside any
    transaction; the writes are one transaction, so the days are replaced as a whole or not at all."""
    demotions = _mark_redeliveries(con, source, days, files)
    groups: dict[tuple, list[LandedFile]] = {}
    odd: list[LandedFile] = []
    documents: list[LandedFile] = []
    for f in files:
        if f.status != "loaded":
            continue
        if f.layout is not None and f.layout.json_document:
            documents.append(f)
        elif not f.lines:
            f.parse_path = "fast"  # empty file: nothing to parse
        elif f.exact_only:
            odd.append(f)
        else:
            assert f.layout is not None
            groups.setdefault((f.layout.table, f.n_fields, f.header_lines, f.crlf), []).append(f)
    scans: list[Scan] = []
    for index, group in enumerate(groups.values()):
        more_scans, more_odd = _scan(con, group, str(index))
        scans, odd = scans + more_scans, odd + more_odd
    con.execute("begin transaction")
    try:
        for day in days:
            _delete_day(con, source, day)
        _demote(con, source, demotions)
        for scan in scans:
            _store_fast(con, scan)
        for f in odd:
            _parse_exact(con, f)
        _store_json_documents(con, documents)
        _write_audit(con, files, run_id)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        for scan in scans:
            con.execute(f"drop table if exists {scan.accepted}; drop table if exists {scan.rejected}")


def ingest_days(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    source: str,
    days: Sequence[date],
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Loads:
    """Load (or re-load) every file of `source` delivered on each of `days`. Days are loaded in chunks
    (CHUNK_BYTES), each one transaction that replaces its days as a whole or not at all; re-running any
    range is idempotent. One scan per layout variant over a chunk's files keeps inserts large, so DuckDB
    writes them straight to compressed blocks rather than to the WAL and again at the checkpoint (several
    times faster than a transaction per day, measured)."""
    migrate(con)
    run_id = run_id or uuid.uuid4().hex
    chunks = _chunk_days(landing, source, days)
    loads = Loads()
    for index, chunk in enumerate(chunks):
        # Sequential on purpose: on 2 cores, reading the next chunk while DuckDB loads this one was slower.
        files = _inspect_chunk(landing, source, chunk)
        chunk_days = [day for day, _ in chunk]
        _load_chunk(con, source, chunk_days, files, run_id)
        loads += [DayLoad(source, day, [f for f in files if f.delivery_date == day]) for day in chunk_days]
        if progress:
            progress(
                f"{source}: loaded {len(files)} files of {chunk_days[0]}..{chunk_days[-1]} "
                f"({index + 1}/{len(chunks)} chunks)"
            )
    loads.refused = refuse_strays(con, landing, run_id)
    return loads


def ingest_day(
    con: duckdb.DuckDBPyConnection, landing: Path, source: str, day: date, run_id: str | None = None
) -> DayLoad:
    """Load (or re-load) every file of `source` delivered on `day`. One transaction; idempotent."""
    return ingest_days(con, landing, source, [day], run_id)[0]
