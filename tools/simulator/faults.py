"""Faults a real operator's landing zone shows, injected on purpose and recorded as ground truth.

Three stages, in the order the world is built:
- call faults change true calls (trunks nobody owns, trunks the CRM learns about late, unpriced numbers);
- record faults change what a switch writes (clock skew, near-duplicates, garbage and blank lines);
- line and file faults change bytes (truncated lines, bad quoting, bad encoding, second-backend copies,
  late, re-delivered, corrupt and foreign files).
Each fault picks calls, records or files that no other fault touched, so every injection row has
one cause. `Ledger` keeps what was injected and resolves it to file, line and record id at the end.
Counts grow with the square root of the traffic: tens to a few hundred per kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from tools.simulator.numbering import COUNTRY_INDEX, HOME_COUNTRIES, RangeTable, unpriced_numbers
from tools.simulator.records import CARRIER, FILLER, NEAR_DUPLICATE, NORMAL, FileTable, Records
from tools.simulator.reference import NICKNAMES, SWITCH_INDEX, SWITCHES, World
from tools.simulator.render import caller_name
from tools.simulator.timeline import DAY, HOUR, Timeline, ZoneClock, add_months, epoch, iso_utc
from tools.simulator.traffic import ANSWERED, INBOUND, US, Calls

EXPECTED_EFFECT = {
    "malformed_line": "reject:unparseable_row",
    "truncated_line": "reject:wrong_column_count",
    "unescaped_quote": "reject:unparseable_row",
    "encoding_error": "reject:encoding_error",
    "blank_line": "reject:blank_line",
    "redelivered_file": "redelivery",
    "backend_duplicate": "duplicate_record",
    "near_duplicate": "near_duplicate",
    "clock_skew": "corrected_time",
    "dst_ambiguous": "resolve_ambiguous_local_time",
    "unknown_trunk": "suspense:unknown_account",
    "late_assignment": "release_after_late_assignment",
    "late_file": "late_arrival",
    "missing_destination": "suspense:unknown_destination",
    "corrupt_gzip": "quarantine:corrupt_gzip",
    "unknown_layout": "quarantine:unknown_layout",
}
KINDS = tuple(EXPECTED_EFFECT)
REFERENCE_CALLS = 620_000  # the default config's traffic: counts are the base counts there

_GARBAGE = (
    "*** cdr writer restarted ***",
    "ERROR: could not write record: No space left on device",
    "#####################################",
    "-- MARK --",
    "<record lost: buffer overflow>",
    "NaN NaN NaN NaN",
)
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>Bad Gateway</h1>\n<p>The export service received an invalid response from an upstream server.</p>\n"
    b"<hr><address>nginx</address></body></html>\n"
)


def fault_count(base: int, total_calls: int) -> int:
    return max(2, round(base * math.sqrt(total_calls / REFERENCE_CALLS)))


@dataclass
class Group:
    kind: str
    index: np.ndarray
    detail: list[str]


@dataclass
class Injection:
    kind: str
    source: str
    file: str
    line_no: int | None
    record_key: str
    call_id: int | None
    detail: str

    @property
    def expected_effect(self) -> str:
        return EXPECTED_EFFECT[self.kind]


@dataclass
class Ledger:
    """What was injected, by call, record or sorted position until files and lines are known."""

    by_call: list[Group] = field(default_factory=list)
    by_record: list[Group] = field(default_factory=list)
    by_position: list[Group] = field(default_factory=list)
    copies: list[tuple[str, str, np.ndarray, str]] = field(default_factory=list)  # kind, path, positions, detail
    rows: list[Injection] = field(default_factory=list)  # file-level rows, complete already

    @staticmethod
    def _group(kind: str, index: np.ndarray, detail: str | list[str]) -> Group:
        details = detail if isinstance(detail, list) else [detail] * len(index)
        return Group(kind, np.asarray(index, np.int64), details)

    def calls(self, kind: str, index: np.ndarray, detail: str | list[str]) -> None:
        self.by_call.append(self._group(kind, index, detail))

    def records(self, kind: str, index: np.ndarray, detail: str | list[str]) -> None:
        self.by_record.append(self._group(kind, index, detail))

    def positions(self, kind: str, index: np.ndarray, detail: str | list[str]) -> None:
        self.by_position.append(self._group(kind, index, detail))

    def file(self, kind: str, path: str, detail: str) -> None:
        self.rows.append(Injection(kind, path.split("/", 1)[0], path, None, "", None, detail))

    def to_positions(self, first_position: np.ndarray, record_position: np.ndarray) -> list[Group]:
        """Every record-level injection as sorted-record positions."""
        out = [Group(g.kind, first_position[g.index], g.detail) for g in self.by_call]
        out += [Group(g.kind, record_position[g.index], g.detail) for g in self.by_record]
        return out + self.by_position


# ---------------------------------------------------------------------------------------------------
# Call faults


def inject_call_faults(
    calls: Calls, world: World, timeline: Timeline, rng: np.random.Generator, ledger: Ledger
) -> np.ndarray:
    """Mutates `calls`; returns the mask of calls a fault now owns."""
    total = len(calls)
    touched = np.zeros(total, bool)
    ranges = RangeTable.build()
    start_s = calls.start_us // US

    def candidates(switch: int | None, lo: int = 0, hi: int = 2**62) -> np.ndarray:
        ok = (calls.call_type != INBOUND) & (calls.account >= 0) & (calls.disposition == ANSWERED) & ~touched
        ok &= (start_s >= lo) & (start_s < hi)
        if switch is not None:
            ok &= calls.switch == switch
        return np.flatnonzero(ok)

    def choose(pool: np.ndarray, n: int) -> np.ndarray:
        picked = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
        touched[picked] = True
        return picked

    def reown(picked: np.ndarray, switch: int, account: int, trunk: int, numbers: np.ndarray) -> None:
        calls.account[picked], calls.trunk[picked], calls.accountcode_of[picked] = account, trunk, -1
        calls.a_number[picked] = numbers
        calls.a_country[picked] = COUNTRY_INDEX[HOME_COUNTRIES[switch]]

    for s in range(3):  # trunks no assignment ever names; callers show numbers nobody owns either
        picked = choose(candidates(s), fault_count(25, total))
        home = COUNTRY_INDEX[HOME_COUNTRIES[s]]
        rows = np.flatnonzero((ranges.country == home) & (ranges.kind == "fixed"))
        reown(picked, s, -1, int(world.ghost_trunks[s]), ranges.numbers(rng, rng.choice(rows, len(picked))))
        ledger.calls("unknown_trunk", picked, f"trunk {world.trunks.ids[world.ghost_trunks[s]]} is never assigned")

    for late in world.late_trunks:
        s = SWITCH_INDEX[late.event.switch_id]
        delivered = epoch(late.event.delivered)
        held = choose(
            candidates(s, epoch(late.event.valid_from) + 12 * HOUR, delivered - 6 * HOUR), fault_count(40, total)
        )
        after = choose(candidates(s, delivered + 12 * HOUR, epoch(timeline.end) - 6 * HOUR), fault_count(40, total))
        for picked in (held, after):
            reown(picked, s, late.account, late.trunk, rng.choice(np.array(late.dids), len(picked)))
        ledger.calls(
            "late_assignment",
            held,
            f"trunk {world.trunks.ids[late.trunk]} assigned from {late.event.valid_from} "
            f"in crm/{late.event.delivered}/service_assignments.csv",
        )

    picked = choose(candidates(None), fault_count(50, total))
    calls.b_number[picked] = unpriced_numbers(rng, len(picked))
    calls.b_country[picked] = -1
    calls.call_type[picked] = 2
    ledger.calls("missing_destination", picked, "B-number in 88213, a range no customer plan prices")
    return touched


# ---------------------------------------------------------------------------------------------------
# Record faults (before records are sorted into files)


def skew_clock(records: Records, calls: Calls, timeline: Timeline) -> np.ndarray:
    """The skewed switch's records inside the window carry times one offset late; returns their indices."""
    switch = SWITCH_INDEX[timeline.skew_switch_id]
    start = calls.start_us[records.call] // US
    hit = np.flatnonzero((records.switch == switch) & (start >= timeline.skew_from) & (start < timeline.skew_to))
    off = timeline.skew_offset
    records.start_s[hit] += off
    records.end_s[hit] += off
    records.answer_s[hit] = np.where(records.answer_s[hit] >= 0, records.answer_s[hit] + off, -1)
    records.order_us[hit] += off * US
    return hit


def dst_ambiguous(records: Records, clocks: dict[int, ZoneClock]) -> np.ndarray:
    """Mask of records with a local start, answer or end inside a repeated (fall-back) hour."""
    mask = np.zeros(len(records), bool)
    for switch, clock in clocks.items():
        mine = np.flatnonzero((records.switch == switch) & (records.kind != FILLER))
        hit = clock.ambiguous(records.start_s[mine]) | clock.ambiguous(records.end_s[mine])
        answered = records.answer_s[mine] >= 0
        hit |= answered & clock.ambiguous(np.where(answered, records.answer_s[mine], records.start_s[mine]))
        mask[mine[hit]] = True
    return mask


def inject_record_faults(
    records: Records,
    calls: Calls,
    touched: np.ndarray,
    timeline: Timeline,
    clocks: dict[int, ZoneClock],
    rng: np.random.Generator,
    ledger: Ledger,
) -> tuple[Records, dict[int, bytes]]:
    """Clock skew, near-duplicates, garbage and blank lines. Returns new records and filler texts."""
    total = len(calls)
    skewed = skew_clock(records, calls, timeline)
    true_start = calls.start_us[records.call[skewed]] // US
    ledger.records(
        "clock_skew", skewed, [f"true start {iso_utc(int(t))}, clock +{timeline.skew_offset}s" for t in true_start]
    )
    touched[records.call[skewed]] = True
    touched[records.call[dst_ambiguous(records, clocks)]] = True

    def free_records(single: bool = True) -> np.ndarray:
        ok = (records.kind == NORMAL) & ~touched[records.call]
        return np.flatnonzero(ok & (records.parts == 1)) if single else np.flatnonzero(ok)

    # Near-duplicates: the same call written again a second or two later under a new record id.
    originals = np.sort(rng.choice(free_records(), fault_count(120, total), replace=False))
    touched[records.call[originals]] = True
    shift = rng.integers(1, 3, len(originals))
    dupes = records.take(originals)
    dupes.kind[:] = NEAR_DUPLICATE
    dupes.start_s += shift
    dupes.end_s += shift
    dupes.answer_s = np.where(dupes.answer_s >= 0, dupes.answer_s + shift, -1)
    dupes.order_us += shift * US
    base = len(records)
    ledger.records(
        "near_duplicate",
        base + np.arange(len(dupes)),
        [f"second record of the call, start +{d}s, new record id" for d in shift],
    )

    # Garbage lines after random records, and three blank lines in one file.
    anchors = np.sort(rng.choice(free_records(False), fault_count(40, total), replace=False))
    texts = [_GARBAGE[i] for i in rng.integers(0, len(_GARBAGE), len(anchors))]
    blank_file = records.file_key[rng.choice(free_records(False))]
    in_file = np.flatnonzero((records.file_key == blank_file) & (records.kind == NORMAL))
    blanks = np.sort(rng.choice(in_file, size=min(3, len(in_file)), replace=False))
    fillers = records.take(np.concatenate([anchors, blanks]))
    fillers.kind[:] = FILLER
    first_filler = base + len(dupes)
    ledger.records("malformed_line", first_filler + np.arange(len(anchors)), [f"garbage text: {t}" for t in texts])
    ledger.records("blank_line", first_filler + len(anchors) + np.arange(len(blanks)), "empty line")
    texts_by_record = {first_filler + i: (t + "\n").encode() for i, t in enumerate(texts)}
    texts_by_record |= {first_filler + len(anchors) + i: b"\n" for i in range(len(blanks))}
    touched[records.call[anchors]] = True
    touched[records.call[blanks]] = True
    return Records.concat([records, dupes, fillers]), texts_by_record


# ---------------------------------------------------------------------------------------------------
# Line faults (after sorting: positions in files are known)


@dataclass(frozen=True)
class Patch:
    """How one rendered line is damaged at write time."""

    kind: str  # truncate | unescape | latin1 | replace
    fields: int = 0  # truncate: keep this many fields
    name: str = ""  # unescape: the caller name as rendered
    text: bytes = b""  # replace: the new line

    def apply(self, line: bytes, switch: int) -> bytes:
        if self.kind == "replace":
            return self.text
        if self.kind == "latin1":
            return line.decode("utf-8").encode("latin-1")
        if self.kind == "truncate":
            return line[: _field_end(line, self.fields)] + b"\n"
        bad = _nicknamed(self.name).encode()
        old, new = (
            (b'"""' + self.name.encode() + b'"" <', b'"""' + bad + b'"" <')
            if switch == 0
            else (b'"' + self.name.encode() + b'","', b'"' + bad + b'","')
        )
        if old not in line:
            raise ValueError(f"caller name {self.name!r} not found in line {line!r}")
        return line.replace(old, new, 1)


def _field_end(line: bytes, fields: int) -> int:
    """Byte offset of the comma that ends field number `fields` (quotes respected)."""
    quoted, seen = False, 0
    for i, ch in enumerate(line):
        if ch == 0x22:
            quoted = not quoted
        elif ch == 0x2C and not quoted:
            seen += 1
            if seen == fields:
                return i
    raise ValueError("line has fewer fields than the cut")


def _nicknamed(name: str) -> str:
    first, _, rest = name.partition(" ")
    nick = NICKNAMES[sum(name.encode()) % len(NICKNAMES)]
    return f'{first} "{nick}" {rest}'.rstrip()


def inject_line_faults(
    records: Records,
    calls: Calls,
    names: np.ndarray,
    touched: np.ndarray,
    rng: np.random.Generator,
    ledger: Ledger,
) -> dict[int, Patch]:
    """Truncated lines, unescaped quotes and Latin-1 bytes on untouched single-record calls."""
    total = len(calls)
    free = (records.kind == NORMAL) & (records.parts == 1) & ~touched[records.call]
    name_of = names[records.call]
    named = (name_of >= 0) & (records.switch != CARRIER)
    accented = np.array([not caller_name(int(i)).isascii() for i in range(names.max() + 1)] + [False])
    patches: dict[int, Patch] = {}

    def choose(mask: np.ndarray, n: int) -> np.ndarray:
        pool = np.flatnonzero(mask & free)
        picked = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
        free[picked] = False
        return picked

    picked = choose(np.ones(len(records), bool), fault_count(40, total))
    keep = rng.integers(4, 12, len(picked))
    patches |= {int(p): Patch("truncate", fields=int(k)) for p, k in zip(picked, keep, strict=True)}
    ledger.positions("truncated_line", picked, [f"cut after {k} fields" for k in keep])

    picked = choose(named, fault_count(30, total))
    patches |= {int(p): Patch("unescape", name=caller_name(int(name_of[p]))) for p in picked}
    ledger.positions(
        "unescaped_quote",
        picked,
        [f"caller name {_nicknamed(caller_name(int(name_of[p])))} written with bare quotes" for p in picked],
    )

    picked = choose(named & accented[name_of], fault_count(30, total))
    patches |= {int(p): Patch("latin1") for p in picked}
    ledger.positions(
        "encoding_error",
        picked,
        [f"line written in Latin-1 (caller name {caller_name(int(name_of[p]))})" for p in picked],
    )
    touched[records.call[np.array(sorted(patches), np.int64)]] = True
    return patches


# ---------------------------------------------------------------------------------------------------
# File faults


@dataclass
class FileFaults:
    decoys: dict[int, tuple[str, date]] = field(default_factory=dict)  # file -> (kind, day of the bad copy)
    redeliveries: dict[int, date] = field(default_factory=dict)
    backend: dict[int, np.ndarray] = field(default_factory=dict)  # ast file -> positions copied to a 2nd backend


def backend_name(files: FileTable, i: int) -> str:
    return f"{SWITCHES[int(files.switch[i])].switch_id}b_{files.stamp(i)}.csv"


def inject_file_faults(
    files: FileTable,
    file_of: np.ndarray,
    busy: np.ndarray,
    timeline: Timeline,
    total_calls: int,
    rng: np.random.Generator,
    ledger: Ledger,
) -> FileFaults:
    """Pick files for file-level faults among files holding no other fault (`busy` per file).

    Moves the intact copy's delivery day for late, corrupt and foreign files.
    """
    out = FileFaults()
    months = len(timeline.month_starts)
    free = ~busy.copy()
    last_day = epoch(timeline.end) // DAY

    def choose(mask: np.ndarray, n: int) -> np.ndarray:
        pool = np.flatnonzero(mask & free)
        picked = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
        free[picked] = False
        return picked

    # A second CDR backend on the Asterisk box writes some of the same records to its own file.
    target = fault_count(100, total_calls)
    copied = 0
    for i in choose((files.switch == 0) & (files.count >= 20), 50):
        if copied >= target:
            free[i] = True
            continue
        size = min(target - copied, int(files.count[i]) * 35 // 100)
        lines = np.sort(rng.choice(int(files.count[i]), size, replace=False)) + files.first[i]
        out.backend[int(i)] = lines
        copied += len(lines)
        path = f"asterisk/{files.delivered_day(i).isoformat()}/{backend_name(files, i)}"
        ledger.copies.append(("backend_duplicate", path, lines, f"exact copy of a line of {files.path(i)}"))

    def unreadable_then_resent(i: int, kind: str, what: str) -> None:
        """The file lands unreadable on its day; the intact file is re-sent the next day."""
        bad_day = files.delivered_day(i)
        files.delivered[i] += 1
        out.decoys[int(i)] = (kind, bad_day)
        ledger.file(kind, files.path(i, bad_day), f"{what}; the intact file was re-sent as {files.path(i)}")

    in_period = files.delivered < last_day
    for i in choose(files.gz & in_period, 2 * months):
        unreadable_then_resent(i, "corrupt_gzip", "truncated gzip stream")
    for switch in (CARRIER, 0):
        for i in choose(~files.gz & in_period & (files.switch == switch), months):
            unreadable_then_resent(i, "unknown_layout", "an HTML error page saved under the CDR file name")

    for month in timeline.month_starts:  # one file of each month's last day arrives after the month closed
        next_month = add_months(month, 1)
        last = files.hour // 24 == epoch(next_month) // DAY - 1
        for i in choose(last, 1):
            on_time = files.delivered_day(i)
            files.delivered[i] = epoch(next_month + timedelta(days=4)) // DAY
            ledger.file("late_file", files.path(i), f"due {on_time}, delivered after the month closed")
    for i in choose(in_period, 2 * months):
        on_time = files.delivered_day(i)
        files.delivered[i] += int(rng.integers(2, 5))
        ledger.file("late_file", files.path(i), f"due {on_time}, delivered {files.delivered_day(i)}")

    for i in choose(in_period, 3 * months):
        day = files.delivered_day(i) + timedelta(days=int(rng.integers(1, 4)))
        out.redeliveries[int(i)] = day
        ledger.file("redelivered_file", files.path(i, day), f"identical copy of {files.path(i)}")
    return out
