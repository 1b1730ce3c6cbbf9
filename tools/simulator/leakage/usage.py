"""Leakage families on the switches' hourly files (usage capture): a file that never arrived, one delivered
twice, one that arrived empty, a trunk whose records a switch stopped writing, a switch down for hours.

training: `file_missing` (a busy hour's file of one switch deleted), `file_duplicated` (a file delivered again
in the next day's folder, as the same bytes or in the other compression); holdout: `file_empty` (a busy hour's
file truncated to nothing), `trunk_silent` (every record of one busy trunk removed from three consecutive busy
hours' files of its switch), `switch_outage` (a switch's files missing for four consecutive busy hours).

The billing export is left alone: the billing system bills from another feed, so the lost calls stay billed
there (the usage-capture controls must find them from the files alone). A leak's value is the true charge of
its lost calls (the billing system's price of their records), not an estimate.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from tools.simulator.leakage.families import Context, Family, LeakRow

SWITCH_SOURCES = ("asterisk", "freeswitch", "carrier")
HOURLY = re.compile(r"^(?P<switch>.+?)_(?P<day>\d{8})T(?P<hour>\d{2})Z\.csv(\.gz)?$")
BUSY_QUANTILE = 0.75  # a busy file carries at least this quantile of its switch's calls per file
EDGE_DAYS = 7  # keep off the first and last days: a control needs comparable days on both sides


class _Files:
    """The switch files as landed, with the true calls whose (first) record each holds."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        con = duckdb.connect()
        rows = con.execute(
            "select file, switch_id, trunk_id, call_id, line_no, record_count, source, record_key "
            "from read_parquet(?) where file is not null order by file, line_no",
            [str(ctx.ground_truth / "calls.parquet")],
        ).fetchall()
        con.close()
        self.calls: dict[str, list[tuple]] = defaultdict(list)
        for row in rows:
            self.calls[row[0]].append(row)
        self.hourly: dict[str, tuple[str, datetime]] = {}  # path -> (switch, UTC hour)
        for source in SWITCH_SOURCES:
            for path in sorted((ctx.landing / source).glob("*/*")):
                match = HOURLY.match(path.name)
                if match:
                    hour = datetime.strptime(match["day"] + match["hour"], "%Y%m%d%H")
                    self.hourly[path.relative_to(ctx.landing).as_posix()] = (match["switch"], hour)
        days = sorted({h.date() for _, h in self.hourly.values()})
        self.first_day, self.last_day = (days[0], days[-1]) if days else (date.min, date.min)
        self.prices = _prices(ctx.landing)
        self.holidays = _holidays(ctx.landing)

    def free(self, rel: str) -> bool:
        claims = self.ctx.claims
        return rel not in claims.files and not any(c[3] in claims.calls for c in self.calls.get(rel, ()))

    def busy(self, switch: str | None = None) -> list[str]:
        """Unclaimed files of working days (no plan's holiday), away from the edges, carrying a busy share of
        their switch's calls."""
        by_switch: dict[str, list[int]] = defaultdict(list)
        for rel, (sw, _) in self.hourly.items():
            by_switch[sw].append(len(self.calls.get(rel, ())))
        floor = {sw: sorted(n)[int(len(n) * BUSY_QUANTILE)] for sw, n in by_switch.items() if n}
        lo, hi = self.first_day + timedelta(days=EDGE_DAYS), self.last_day - timedelta(days=EDGE_DAYS)
        return [
            rel for rel, (sw, hour) in sorted(self.hourly.items())
            if (switch is None or sw == switch) and lo <= hour.date() <= hi and hour.isoweekday() <= 5
            and hour.date() not in self.holidays
            and len(self.calls.get(rel, ())) >= max(floor[sw], 1) and self.free(rel)
        ]  # fmt: skip

    def at(self, switch: str, hour: datetime) -> str | None:
        found = [rel for rel, (sw, h) in self.hourly.items() if sw == switch and h == hour]
        return found[0] if len(found) == 1 else None

    def claim(self, rels: list[str], call_ids: list[int]) -> None:
        self.ctx.claims.files.update(rels)
        self.ctx.claims.calls.update(call_ids)

    def value(self, calls: list[tuple]) -> tuple[str, Decimal, str]:
        """The billing system's price of these calls: (currency, amount, note), in the currency carrying most."""
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for call in calls:
            price = self.prices.get((call[6], call[7]))
            if price is not None:
                totals[price[1]] += price[0]
        if not totals:
            return "", Decimal(0), "; not priced (no billing export line for these records)"
        currency = max(sorted(totals), key=lambda c: totals[c])
        others = ", ".join(f"{totals[c]} {c}" for c in sorted(totals) if c != currency)
        return currency, totals[currency], f" (also {others})" if others else ""


def _prices(landing: Path) -> dict[tuple[str, str], tuple[Decimal, str]]:
    """(source, record_key) -> (amount, currency) of the billing system's usage lines."""
    prices: dict[tuple[str, str], tuple[Decimal, str]] = {}
    for path in sorted((landing / "billing_export").glob("*/invoice_lines.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for line in csv.DictReader(handle):
                if line.get("record_key"):
                    key = (line["source"], line["record_key"])
                    amount, currency = prices.get(key, (Decimal(0), line["currency"]))
                    prices[key] = (amount + Decimal(line["amount"] or 0), currency)
    return prices


def _holidays(landing: Path) -> set[date]:
    """Every day of any plan's holiday calendar: traffic is low by nature then, a control does not judge it."""
    days = set()
    for path in sorted((landing / "catalog").glob("*/holidays.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            days |= {date.fromisoformat(row["date"]) for row in csv.DictReader(handle) if row.get("date")}
    return days


def _text(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _write(path: Path, text: bytes) -> None:
    path.write_bytes(gzip.compress(text, mtime=0) if path.name.endswith(".gz") else text)


def _stamp(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%dT%H")


def _period(hour: datetime) -> str:
    return hour.date().replace(day=1).isoformat()


def _lost_hour(files: _Files, family: str, mix: str, rel: str, kind: str, detail: str) -> LeakRow:
    switch, hour = files.hourly[rel]
    calls = files.calls.get(rel, [])
    currency, amount, note = files.value(calls)
    subject = rel if kind == "file" else f"{switch}|{_stamp(hour)}"
    return LeakRow(
        family, mix, "usage_capture", "", _period(hour), currency, kind, subject, amount, Decimal(0),
        "under_billing", f"{detail}: {len(calls)} call(s) lost{note}", tuple(c[3] for c in calls),
    )  # fmt: skip


def file_missing(ctx: Context) -> list[LeakRow]:
    files = _Files(ctx)
    candidates = files.busy()
    if not candidates:
        return []
    rel = candidates[int(ctx.rng.integers(len(candidates)))]
    (ctx.landing / rel).unlink()
    files.claim([rel], [c[3] for c in files.calls.get(rel, [])])
    return [_lost_hour(files, "file_missing", "training", rel, "switch_hour", f"{rel} never arrived")]


def file_duplicated(ctx: Context) -> list[LeakRow]:
    files = _Files(ctx)
    candidates = [rel for rel in files.busy() if files.hourly[rel][1].date() < files.last_day]
    if not candidates:
        return []
    rel = candidates[int(ctx.rng.integers(len(candidates)))]
    source, day, name = rel.split("/")
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    same_bytes = bool(ctx.rng.integers(2))
    copy_name = name if same_bytes else (name[:-3] if name.endswith(".gz") else name + ".gz")
    copy = f"{source}/{next_day}/{copy_name}"
    (ctx.landing / copy).parent.mkdir(parents=True, exist_ok=True)
    original = ctx.landing / rel
    if same_bytes:
        (ctx.landing / copy).write_bytes(original.read_bytes())
    else:
        _write(ctx.landing / copy, _text(original))
    files.claim([rel, copy], [c[3] for c in files.calls.get(rel, [])])
    how = "the same bytes" if same_bytes else "in the other compression"
    hour = files.hourly[rel][1]
    return [LeakRow(
        "file_duplicated", "training", "usage_capture", "", _period(hour), "", "file", copy, Decimal(0), Decimal(0),
        "none", f"{rel} delivered again as {copy} ({how}); its records are copies mediation must drop",
    )]  # fmt: skip


def file_empty(ctx: Context) -> list[LeakRow]:
    files = _Files(ctx)
    candidates = files.busy()
    if not candidates:
        return []
    rel = candidates[int(ctx.rng.integers(len(candidates)))]
    _write(ctx.landing / rel, b"")
    files.claim([rel], [c[3] for c in files.calls.get(rel, [])])
    return [_lost_hour(files, "file_empty", "holdout", rel, "file", f"{rel} arrived empty")]


def _runs(files: _Files, switch: str, length: int) -> list[list[str]]:
    """Runs of `length` consecutive busy hours of `switch`, each hour with one unclaimed file."""
    busy = set(files.busy(switch))
    runs = []
    for rel in sorted(busy):
        start = files.hourly[rel][1]
        run = [files.at(switch, start + timedelta(hours=k)) for k in range(length)]
        if all(r is not None and r in busy for r in run):
            runs.append([r for r in run if r is not None])
    return runs


def switch_outage(ctx: Context) -> list[LeakRow]:
    files = _Files(ctx)
    switches = sorted({sw for sw, _ in files.hourly.values()})
    runs = [run for sw in switches for run in _runs(files, sw, 4)]
    if not runs:
        return []
    run = runs[int(ctx.rng.integers(len(runs)))]
    rows = []
    for rel in run:
        (ctx.landing / rel).unlink()
        files.claim([rel], [c[3] for c in files.calls.get(rel, [])])
        rows.append(
            _lost_hour(files, "switch_outage", "holdout", rel, "switch_hour", f"switch down: {rel} never arrived")
        )
    return rows


def trunk_silent(ctx: Context) -> list[LeakRow]:
    files = _Files(ctx)
    # switches writing one line per call (the carrier's partial records and header are left alone)
    switches = sorted({sw for rel, (sw, _) in files.hourly.items() if not rel.startswith("carrier/")})
    options = []
    for switch in switches:
        for run in _runs(files, switch, 3):
            trunks: dict[str, int] = defaultdict(int)
            for rel in run:
                for call in files.calls[rel]:
                    trunks[call[2]] += 1
            if not trunks:
                continue
            trunk = max(sorted(t for t in trunks if t), key=lambda t: trunks[t], default=None)
            calls = [c for rel in run for c in files.calls[rel] if c[2] == trunk]
            if trunk and all(c[5] == 1 for c in calls) and all(any(c[0] == rel for c in calls) for rel in run):
                options.append((run, trunk, len(calls)))
    if not options:
        return []
    floor = sorted(n for *_, n in options)[int(len(options) * BUSY_QUANTILE)]  # a busy trunk, not a stray one
    options = [o for o in options if o[2] >= floor]
    run, trunk, _ = options[int(ctx.rng.integers(len(options)))]
    rows = []
    for rel in run:
        lost = [c for c in files.calls[rel] if c[2] == trunk]
        drop = {c[4] for c in lost}
        path = ctx.landing / rel
        lines = _text(path).splitlines(keepends=True)
        _write(path, b"".join(line for n, line in enumerate(lines, 1) if n not in drop))
        files.claim([rel], [c[3] for c in lost])
        hour = files.hourly[rel][1]
        currency, amount, note = files.value(lost)
        rows.append(LeakRow(
            "trunk_silent", "holdout", "usage_capture", "", _period(hour), currency, "trunk_hour",
            f"{trunk}|{_stamp(hour)}", amount, Decimal(0), "under_billing",
            f"{trunk}'s records removed from {rel}: {len(lost)} call(s) lost{note}", tuple(c[3] for c in lost),
        ))  # fmt: skip
    return rows


FAMILIES: list[Family] = [
    Family("file_missing", "training", "usage_capture", file_missing, "a busy hour's switch file never arrived"),
    Family("file_duplicated", "training", "usage_capture", file_duplicated,
           "a switch file delivered again the next day, as the same bytes or in the other compression"),
    Family("file_empty", "holdout", "usage_capture", file_empty, "a busy hour's switch file arrived empty"),
    Family("trunk_silent", "holdout", "usage_capture", trunk_silent,
           "one busy trunk's records missing from three consecutive busy hours of its switch"),
    Family("switch_outage", "holdout", "usage_capture", switch_outage,
           "a switch's files missing for four consecutive busy hours"),
]  # fmt: skip
