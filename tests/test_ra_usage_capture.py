"""RA-16 (usage file sequence) and RA-17 (silent hours) on one world with hand-worked mutations.

Each mutation sits on its own switch and hour of a clean September (1,200 calls a day, so a busy hour of a
switch carries about 40 calls and of its busiest trunk about 15). The expected values are worked out here
from the warehouse's own fct_calls / fct_rated_calls for the comparable hours (same UTC hour, same day
type, four weeks either side), with Python's statistics.median: an independent computation of the rule.
"""

from __future__ import annotations

import gzip
import math
import re
import shutil
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.settings import Paths
from tests.worlds import operator_month

# a simulation and a pipeline run of a month: past the default timeout on a loaded machine (the fixture's
# run happens inside the first test that asks for it)
pytestmark = pytest.mark.timeout(1800)

CALLS_PER_DAY = 1200

MISSING = "asterisk/2026-09-16/ast-lon1_20260916T10Z"  # deleted: file_missing ast-lon1|2026-09-16T10
REDELIVERED = "freeswitch/2026-09-15/fs-ber1_20260915T12Z"  # copied into the next day's folder
RENAMED = "carrier/2026-09-10/car-nyc1_20260910T19Z"  # also delivered in the other compression
EMPTIED = "carrier/2026-09-17/car-nyc1_20260917T18Z"  # truncated to nothing
THINNED = "asterisk/2026-09-23/ast-lon1_20260923T14Z"  # only its first line kept
TRUNK = "ber-tr-0005"  # its records removed from fs-ber1's files of 2026-09-22 12:00-14:59 UTC
TRUNK_HOURS = ("freeswitch/2026-09-22/fs-ber1_20260922T12Z", "freeswitch/2026-09-22/fs-ber1_20260922T13Z",
               "freeswitch/2026-09-22/fs-ber1_20260922T14Z")  # fmt: skip


def _landed(landing: Path, stem: str) -> Path:
    found = [p for p in (landing / stem).parent.glob((landing / stem).name + ".csv*")]
    assert len(found) == 1, (stem, found)
    return found[0]


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _write(path: Path, text: bytes) -> None:
    path.write_bytes(gzip.compress(text, mtime=0) if path.name.endswith(".gz") else text)


def mutate(paths: Paths) -> None:
    landing = paths.landing
    _landed(landing, MISSING).unlink()
    original = _landed(landing, REDELIVERED)
    (landing / "freeswitch/2026-09-16").mkdir(exist_ok=True)
    shutil.copyfile(original, landing / "freeswitch/2026-09-16" / original.name)
    renamed = _landed(landing, RENAMED)
    other = (
        renamed.with_name(renamed.name[:-3])
        if renamed.name.endswith(".gz")
        else renamed.with_name(renamed.name + ".gz")
    )
    _write(other, _read(renamed))
    _write(_landed(landing, EMPTIED), b"")
    thinned = _landed(landing, THINNED)
    _write(thinned, _read(thinned).splitlines(keepends=True)[0])
    truth = duckdb.connect()
    for stem in TRUNK_HOURS:
        path = _landed(landing, stem)
        rel = path.relative_to(landing).as_posix()
        drop = {n for (n,) in truth.execute(
            "select line_no from read_parquet(?) where file = ? and trunk_id = ?",
            [str(paths.ground_truth / "calls.parquet"), rel, TRUNK]).fetchall()}  # fmt: skip
        assert drop
        lines = _read(path).splitlines(keepends=True)
        _write(path, b"".join(line for n, line in enumerate(lines, 1) if n not in drop))


# ---------------------------------------------------------------------------------------------------------
# The rule computed again in Python from the warehouse's calls: comparable hours, medians, the estimate.

HOURLY = re.compile(r"^(.+?)_(\d{8})T(\d{2})Z\.csv(\.gz)?$")
WEEKS, MIN_HISTORY, BAND, ALPHA, SPREAD = 4, 5, 0.5, 1e-5, 3


def _is_weekend(moment: datetime) -> bool:
    return moment.isoweekday() >= 6


class Hours:
    """Per unit (a switch by its files' names, a switch or a trunk by its calls) and UTC hour: calls and the
    rated charge per currency."""

    def __init__(self, rows: list[tuple[str, datetime, str | None, Decimal | None]], holidays: set[date]) -> None:
        self.calls: dict[tuple[str, datetime], int] = defaultdict(int)
        self.money: dict[tuple[str, datetime, str], list] = defaultdict(lambda: [0, Decimal(0)])
        for unit, hour, currency, cost in rows:
            self.calls[(unit, hour)] += 1
            if currency is not None:
                self.money[(unit, hour, currency)][0] += 1
                self.money[(unit, hour, currency)][1] += cost
        self.holidays = holidays
        self.span: dict[str, tuple[datetime, datetime]] = {}
        for unit, hour in self.calls:
            first, last = self.span.get(unit, (hour, hour))
            self.span[unit] = (min(first, hour), max(last, hour))

    def comparable(self, unit: str, hour: datetime) -> list[datetime]:
        first, last = self.span[unit]
        out = []
        for days in range(-7 * WEEKS, 7 * WEEKS + 1):
            other = hour + timedelta(days=days)
            if (
                days
                and first <= other <= last
                and _is_weekend(other) == _is_weekend(hour)
                and other.date() not in self.holidays
            ):
                out.append(other)
        return out

    def expected(self, unit: str, hour: datetime) -> float:
        return statistics.median(self.calls.get((unit, h), 0) for h in self.comparable(unit, hour))

    def is_short(self, unit: str, hour: datetime, calls: int) -> bool:
        history = self.comparable(unit, hour)
        expected = self.expected(unit, hour)
        counts = [self.calls.get((unit, h), 0) for h in history]
        return (
            len(history) >= MIN_HISTORY
            and calls < (1 - BAND) * expected
            and sum(math.exp(-expected) * expected**i / math.factorial(i) for i in range(calls + 1)) < ALPHA
            and expected - calls > SPREAD * 1.4826 * statistics.median(abs(c - expected) for c in counts)
        )

    def estimate(self, unit: str, hour: datetime) -> dict[str, Decimal]:
        """currency -> median calls x median charge per call over the comparable hours, to the cent."""
        history = self.comparable(unit, hour)
        currencies = {c for (u, h, c) in self.money if u == unit and h in set(history)}
        out = {}
        for currency in currencies:
            counts = [self.money.get((unit, h, currency), [0, 0])[0] for h in history]
            per_call = [float(m[1]) / m[0] for h in history
                        if (m := self.money.get((unit, h, currency))) and m[0] > 0]  # fmt: skip
            if statistics.median(counts) > 0:
                out[currency] = Decimal(statistics.median(counts) * statistics.median(per_call)).quantize(CENT)
        return out


CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def world():
    with operator_month(mutate, calls_per_day=CALLS_PER_DAY) as (paths, results):
        yield paths, results


@pytest.fixture(scope="module")
def warehouse(world):
    paths, _ = world
    from orchestration.warehouse import connect

    with connect(paths.warehouse, read_only=True) as con:
        holidays = {d for (d,) in con.execute(
            "select distinct holiday_date from staging.stg_catalog__holidays where holiday_date is not null"
        ).fetchall()}  # fmt: skip
        rows = con.execute(
            """select audit.path, c.switch_id, c.trunk_id, c.start_at, r.currency, r.cost
               from marts.fct_calls as c
               inner join raw.load_audit as audit using (file_id)
               left join marts.fct_rated_calls as r using (call_id)"""
        ).fetchall()
        audit = con.execute("select path, status, rows_loaded from raw.load_audit").fetchall()
        found = con.execute(
            """select control_id, finding_type, subject, currency, expected_amount, leakage_amount, direction, detail
               from marts.fct_leakage_findings where control_id in ('RA-16', 'RA-17')"""
        ).fetchall()
    by_file, by_switch, by_trunk = [], [], []
    for path, switch, trunk, start, currency, cost in rows:
        match = HOURLY.match(path.rsplit("/", 1)[-1])
        if match:
            hour = datetime.strptime(match[2] + match[3], "%Y%m%d%H")
            by_file.append((match[1], hour, currency, cost))
        start_hour = start.replace(minute=0, second=0, microsecond=0)
        by_switch.append((switch, start_hour, currency, cost))
        if trunk:
            by_trunk.append((trunk, start_hour, currency, cost))
    return {
        "files": Hours(by_file, holidays),
        "switches": Hours(by_switch, holidays),
        "trunks": Hours(by_trunk, holidays),
        "audit": {path: (status, rows_loaded) for path, status, rows_loaded in audit},
        "findings": found,
    }


def _findings(warehouse: dict, control: str, finding_type: str) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = defaultdict(list)
    for row in warehouse["findings"]:
        if row[0] == control and row[1] == finding_type:
            out[row[2].split("|")[0] if "/" in row[2] else "|".join(row[2].split("|")[:2])].append(row)
    return out


def _assert_valued(rows: list[tuple], estimate: dict[str, Decimal]) -> None:
    assert estimate, "the hand computation found no money in the comparable hours"
    assert {r[3]: Decimal(r[5]).quantize(CENT) for r in rows} == estimate
    for row in rows:
        assert row[4] == row[5] and row[6] == "under_billing"
        assert "estimated from" in row[7] and "comparable days" in row[7]


def _hour(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H")


@pytest.mark.integration
def test_missing_file_is_found_and_valued_from_comparable_hours(warehouse):
    rows = _findings(warehouse, "RA-16", "file_missing")["ast-lon1|2026-09-16T10"]
    hours: Hours = warehouse["files"]
    hour = _hour("2026-09-16T10")
    assert hours.is_short("ast-lon1", hour, 0)
    _assert_valued(rows, hours.estimate("ast-lon1", hour))


@pytest.mark.integration
def test_empty_file_is_found_and_valued(warehouse):
    path = next(p for p in warehouse["audit"] if p.startswith(EMPTIED))
    assert warehouse["audit"][path] == ("loaded", 0)
    rows = _findings(warehouse, "RA-16", "file_empty")[path]
    hours: Hours = warehouse["files"]
    _assert_valued(rows, hours.estimate("car-nyc1", _hour("2026-09-17T18")))


@pytest.mark.integration
def test_redelivered_file_is_a_duplicate_without_value(warehouse):
    copy = next(p for p in warehouse["audit"] if p.startswith("freeswitch/2026-09-16/fs-ber1_20260915T12Z"))
    assert warehouse["audit"][copy][0] == "redelivery"
    (row,) = _findings(warehouse, "RA-16", "file_duplicated")[copy]
    assert (row[5], row[6]) == (0, "none") and "re-delivery" in row[7]


@pytest.mark.integration
def test_same_hour_under_another_name_is_a_duplicate_mediation_removed(warehouse):
    pair = sorted(p for p in warehouse["audit"] if p.startswith(RENAMED))
    assert len(pair) == 2 and all(warehouse["audit"][p][0] == "loaded" for p in pair)
    rows = _findings(warehouse, "RA-16", "file_duplicated")
    assert pair[0] not in rows  # the first delivered (same day: first path) is the original
    (row,) = rows[pair[1]]
    assert (row[5], row[6]) == (0, "none") and "deduplicated" in row[7]


@pytest.mark.integration
def test_thinned_hour_is_a_silent_switch_hour(warehouse):
    hours: Hours = warehouse["switches"]
    hour = _hour("2026-09-23T14")
    assert 1 <= hours.calls[("ast-lon1", hour)] <= 3  # the line kept (and any call of the hour filed elsewhere)
    assert hours.is_short("ast-lon1", hour, 1)
    rows = _findings(warehouse, "RA-17", "switch_silent_hour")["ast-lon1|2026-09-23T14"]
    _assert_valued(rows, hours.estimate("ast-lon1", hour))


@pytest.mark.integration
def test_silent_trunk_hours(warehouse):
    hours: Hours = warehouse["trunks"]
    found = _findings(warehouse, "RA-17", "trunk_silent_hour")
    for stem in TRUNK_HOURS:
        hour = _hour(f"2026-09-22T{stem[-3:-1]}")
        assert hours.calls.get((TRUNK, hour), 0) == 0
        if hours.is_short(TRUNK, hour, 0):  # the trunk's usual traffic in that hour is significant
            _assert_valued(found[f"{TRUNK}|{hour:%Y-%m-%dT%H}"], hours.estimate(TRUNK, hour))
        else:
            assert f"{TRUNK}|{hour:%Y-%m-%dT%H}" not in found


@pytest.mark.integration
def test_nothing_else_is_found(warehouse):
    """The clean hours give no RA-16/RA-17 finding, and no hour is reported twice (a missing file's hour is
    not also a silent switch or trunk hour)."""
    subjects = {(r[0], r[1], "|".join(r[2].split("|")[:2]) if "/" not in r[2] else r[2]) for r in warehouse["findings"]}
    renamed = max(p for p in warehouse["audit"] if p.startswith(RENAMED))
    redelivered = next(p for p in warehouse["audit"] if p.startswith("freeswitch/2026-09-16/fs-ber1_20260915T12Z"))
    emptied = next(p for p in warehouse["audit"] if p.startswith(EMPTIED))
    trunk = {("RA-17", "trunk_silent_hour", f"{TRUNK}|2026-09-22T{stem[-3:-1]}") for stem in TRUNK_HOURS}
    expected = {
        ("RA-16", "file_missing", "ast-lon1|2026-09-16T10"),
        ("RA-16", "file_empty", emptied),
        ("RA-16", "file_duplicated", redelivered),
        ("RA-16", "file_duplicated", renamed),
        ("RA-17", "switch_silent_hour", "ast-lon1|2026-09-23T14"),
    }
    assert expected <= subjects
    assert subjects - expected <= trunk


# ---------------------------------------------------------------------------------------------------------
# The name parsing and sequence-gap rule of RA-16 (macros/ra_capture.sql) on generated file lists, in DuckDB.


def _capture_macros():
    import jinja2

    text = (Path(__file__).parents[1] / "dbt_project/macros/ra_capture.sql").read_text()
    return jinja2.Environment().from_string(text).module


@settings(max_examples=25, deadline=None)
@given(
    switches=st.dictionaries(
        st.sampled_from(["sw-a", "cdr_b", "nyc.c"]),
        st.tuples(st.sets(st.integers(1, 60), min_size=1, max_size=40), st.sampled_from(["", "04", "07"]),
                  st.sampled_from([".csv", ".csv.gz", ".cdr"])),
        min_size=1,
    ),
    hourly=st.sets(st.integers(0, 47), max_size=5),
)  # fmt: skip
def test_sequence_gaps_on_generated_names(switches, hourly):
    macros = _capture_macros()
    rows, expected = [], set()
    for switch, (numbers, width, ext) in switches.items():
        for n in numbers:
            rows.append((f"carrier/2026-09-01/{switch}_{n:{width}d}{ext}", "2026-09-01"))
        expected |= {(switch, n) for n in range(min(numbers), max(numbers) + 1) if n not in numbers}
    for day in (20260930, 20261001):  # a daily stamp is no sequence number (30 Sep -> 1 Oct is no gap of 70)
        rows.append((f"carrier/2026-09-30/daily_{day}.csv", "2026-09-30"))
    for h in hourly:  # hourly names of the same switch: judged by hour, never part of its sequence
        moment = datetime(2026, 9, 1) + timedelta(hours=h)
        rows.append((f"carrier/{moment:%Y-%m-%d}/sw-a_{moment:%Y%m%dT%H}Z.csv", f"{moment:%Y-%m-%d}"))
    con = duckdb.connect()
    con.execute(
        "create table audit as select md5(path) as file_id, 'carrier' as source, cast(day as date) as delivery_date,"
        " path, 'loaded' as status, null as duplicate_of, 1 as rows_loaded, 1 as lines"
        " from (select unnest($paths) as path, unnest($days) as day)",
        {"paths": [r[0] for r in rows], "days": [r[1] for r in rows]},
    )
    con.execute(f"create view named as {macros.ra_file_names('audit')}")
    gaps = con.execute(f"select unit, seq from ({macros.ra_sequence_gaps('named')})").fetchall()
    assert sorted(gaps) == sorted(expected)
    hours = con.execute("select unit, hour_at from named where hour_at is not null").fetchall()
    assert sorted(hours) == sorted(("sw-a", datetime(2026, 9, 1) + timedelta(hours=h)) for h in hourly)


# ---------------------------------------------------------------------------------------------------------
# The usage-capture leakage families (tools/simulator/leakage/usage.py) on a small hand-made landing.


def _family_landing(root: Path) -> Path:
    """asterisk switch sw1: one file per hour 08-17 UTC of every day of September, hour h holding h lines,
    trunk t1 on odd lines and t2 on even ones; priced 0.10 GBP a call by a billing export line."""
    landing, truth = root / "landing", root / "ground_truth"
    truth.mkdir(parents=True)
    calls, prices = [], []
    call_id = 0
    for day in range(1, 31):
        folder = landing / "asterisk" / f"2026-09-{day:02d}"
        folder.mkdir(parents=True)
        for hour in range(8, 18):
            name = f"sw1_202609{day:02d}T{hour:02d}Z.csv"
            lines = []
            for line_no in range(1, hour + 1):
                call_id += 1
                key = f"k{call_id}"
                lines.append(f"{key},t{2 - line_no % 2}\n")
                calls.append(
                    (call_id, "sw1", f"t{2 - line_no % 2}", f"asterisk/2026-09-{day:02d}/{name}", line_no, key)
                )
                prices.append(f"INV,1,A1,2026-09-01,usage,asterisk,{key},P,,,60,0.10,GBP\n")
            (folder / name).write_text("".join(lines))
    export = landing / "billing_export" / "2026-10-01"
    export.mkdir(parents=True)
    header = "invoice_number,line_number,account_id,billing_period,line_type,source,record_key,rate_plan_id,"
    (export / "invoice_lines.csv").write_text(header + "subscription_id,product_id,quantity,amount,currency\n"
                                              + "".join(prices))  # fmt: skip
    con = duckdb.connect()
    con.execute("create table c (call_id bigint, switch_id varchar, trunk_id varchar, file varchar, line_no int,"
                " record_key varchar)")  # fmt: skip
    con.executemany("insert into c values (?, ?, ?, ?, ?, ?)", calls)
    con.execute(
        "copy (select *, 'asterisk' as source, cast(1 as smallint) as record_count from c) to $p (format parquet)",
        {"p": str(truth / "calls.parquet")},
    )
    return landing


def _context(landing: Path, seed: int = 1):
    import numpy as np

    from tools.simulator.leakage.families import Claims, Context

    return Context(landing, landing.parent / "ground_truth", None, None, np.random.default_rng(seed), Claims())


def test_usage_families_on_a_hand_made_landing(tmp_path):
    from tools.simulator.leakage import usage as leaks_usage

    landing = _family_landing(tmp_path)
    busy_hours = {15, 16, 17}  # 15+ lines: the top quarter of hours 8..17 by calls
    ctx = _context(landing)

    (missing,) = leaks_usage.file_missing(ctx)
    switch, stamp = missing.subject.split("|")
    hour = datetime.strptime(stamp, "%Y-%m-%dT%H")
    assert switch == "sw1" and hour.hour in busy_hours and hour.isoweekday() <= 5
    assert not (landing / f"asterisk/{hour:%Y-%m-%d}/sw1_{hour:%Y%m%dT%H}Z.csv").exists()
    assert len(missing.call_ids) == hour.hour
    assert (missing.currency, missing.expected, missing.direction) == (
        "GBP",
        Decimal("0.10") * hour.hour,
        "under_billing",
    )

    (duplicate,) = leaks_usage.file_duplicated(ctx)
    assert duplicate.direction == "none" and duplicate.expected == 0 and duplicate.subject_kind == "file"
    assert (landing / duplicate.subject).exists()

    trunk_rows = leaks_usage.trunk_silent(ctx)
    assert len(trunk_rows) == 3 and {r.subject.split("|")[0] for r in trunk_rows} == {"t1"}  # t1: odd lines, more
    for row in trunk_rows:
        hour = datetime.strptime(row.subject.split("|")[1], "%Y-%m-%dT%H")
        text = (landing / f"asterisk/{hour:%Y-%m-%d}/sw1_{hour:%Y%m%dT%H}Z.csv").read_text()
        assert ",t1" not in text and text.count(",t2") == hour.hour // 2
        assert len(row.call_ids) == (hour.hour + 1) // 2
    hours = sorted(datetime.strptime(r.subject.split("|")[1], "%Y-%m-%dT%H") for r in trunk_rows)
    assert [h - hours[0] for h in hours] == [timedelta(0), timedelta(hours=1), timedelta(hours=2)]

    # every family takes other files and calls than the ones before it
    claimed = set(ctx.claims.calls)
    assert set(missing.call_ids) <= claimed and not set(missing.call_ids) & {c for r in trunk_rows for c in r.call_ids}
