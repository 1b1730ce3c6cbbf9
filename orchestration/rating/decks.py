"""Rate-deck versions: customer plans and vendor decks uploaded, validated, previewed, approved and published
(docs/rating.md, "Managing tariffs").

A deck is one rate plan in the tariff format `tollhouse rate` reads (rate_plans.csv, rates.csv,
time_bands.csv, holidays.csv), of a kind: `customer` (the catalog's plans) or `vendor` (a vendor's cost
deck). Every upload that passes the tariff rules is kept as the next version of its deck in a SQLite store
beside the warehouse (data/tariffs/tariffs.sqlite), with who uploaded it, when, the date it is to take effect
and its status: draft -> approved (by another person: maker-checker) -> published. One transaction per
change, and an append-only log of every act.

Publishing lands the deck where the pipeline reads reference files (landing/<catalog|vendor>/<effective
date>/), written as a change to the deck the pipeline has now: the rates in force at the effective date that
change or go are re-delivered ending on that date, and the new ones start on it, so every call before it
keeps its price, and an effective date inside a closed billing period is refused.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from orchestration.ingestion.layouts import TARIFF_FILES as TARIFF_COLUMNS
from orchestration.ingestion.load import landed_day_folders
from orchestration.rating import what_if
from orchestration.settings import Paths

KINDS = {"customer": "catalog", "vendor": "vendor"}  # deck kind -> the landing source the pipeline reads
STATUSES = ("draft", "approved", "published")
DECK_FILES = ("rate_plans", "rates", "time_bands", "holidays")
BUSY_TIMEOUT_S = 10.0
# Which rate rows are one price: a prefix's slot in a band (its versions differ by valid_from).
RATE_KEY = ("prefix", "band", "group_start_s")
PRICE_FIELDS = ("destination", "connect_fee", "rate", "rate_unit_s", "increment_s", "max_cost")
# The raw tables' version keys (macros/tariffs.sql: latest_version): a later delivery of a key replaces it.
LANDED_KEYS = {
    "rate_plans": ("rate_plan_id",),
    "rates": ("rate_plan_id", "prefix", "band", "valid_from", "group_start_s"),
    "time_bands": ("rate_plan_id", "band", "weekdays", "start_time"),
    "holidays": ("rate_plan_id", "date"),
}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "create table schema_version (version integer not null)",
        """create table deck_versions (
            kind           text not null check (kind in ('customer', 'vendor')),
            rate_plan_id   text not null,
            version        integer not null,   -- 1, 2, ... per deck
            status         text not null check (status in ('draft', 'approved', 'published')),
            effective_from text not null,      -- YYYY-MM-DD, local to the plan
            uploaded_by    text not null,
            uploaded_at    text not null,      -- ISO 8601 UTC, as are the other times
            approved_by    text,
            approved_at    text,
            published_by   text,
            published_at   text,
            landed_in      text,               -- the landing folder publishing wrote to
            primary key (kind, rate_plan_id, version)
        )""",
        """create table deck_files (
            kind         text not null,
            rate_plan_id text not null,
            version      integer not null,
            file_name    text not null,        -- rate_plans.csv, rates.csv, time_bands.csv, holidays.csv
            content      text not null,        -- the file as uploaded
            primary key (kind, rate_plan_id, version, file_name)
        )""",
        """create table deck_events (
            event_id     integer primary key,
            kind         text not null,
            rate_plan_id text not null,
            version      integer not null,
            at           text not null,
            actor        text not null,
            action       text not null,        -- uploaded | approved | published
            note         text
        )""",
        """create trigger deck_events_no_update before update on deck_events
            begin select raise(abort, 'the deck log is append-only'); end""",
        """create trigger deck_events_no_delete before delete on deck_events
            begin select raise(abort, 'the deck log is append-only'); end""",
        "insert into schema_version values (0)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class DeckError(Exception):
    """A deck act that cannot be done; the message names the deck, the field and the value. `problems` lists
    a refused upload's broken tariff rules, one `file:line: rule: message` each."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class DeckVersion:
    kind: str
    rate_plan_id: str
    version: int
    status: str
    effective_from: date
    uploaded_by: str
    uploaded_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    published_by: str | None
    published_at: datetime | None
    landed_in: str | None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.rate_plan_id} v{self.version}"


@dataclass(frozen=True)
class RateChange:
    change: str  # added | removed | price changed
    prefix: str
    band: str
    group_start_s: str
    destination: str
    old_rate: str  # empty when added
    new_rate: str  # empty when removed
    detail: str  # the fields that differ, old -> new


def store_path(paths: Paths) -> Path:
    return paths.data / "tariffs" / "tariffs.sqlite"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _store(paths: Paths) -> Iterator[sqlite3.Connection]:
    """The store, migrated; one transaction: committed when the block ends, rolled back on an error."""
    path = store_path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    con.row_factory = sqlite3.Row
    try:
        con.execute("begin immediate")
        has = con.execute("select 1 from sqlite_master where name = 'schema_version'").fetchone()
        version = con.execute("select version from schema_version").fetchone()[0] if has else 0
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                con.execute(statement)
        con.execute("update schema_version set version = ?", [SCHEMA_VERSION])
        yield con
        con.execute("commit")
    except BaseException:
        if con.in_transaction:
            con.execute("rollback")
        raise
    finally:
        con.close()


def _version(row: sqlite3.Row) -> DeckVersion:
    def at(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return DeckVersion(
        row["kind"], row["rate_plan_id"], row["version"], row["status"], date.fromisoformat(row["effective_from"]),
        row["uploaded_by"], at(row["uploaded_at"]), row["approved_by"], at(row["approved_at"]), row["published_by"],
        at(row["published_at"]), row["landed_in"],
    )  # fmt: skip


def _actor(actor: str) -> str:
    actor = (actor or "").strip()
    if not actor:
        raise DeckError("by: who acts is required (a person's name), got ''")
    return actor


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise DeckError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    return kind


# ---------------------------------------------------------------------------------------------------------------
# Tariff rows as dictionaries of text: parsing, rows in force on a day, writing a folder


def _parse(text: str, name: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in rows]


def _render(name: str, rows: list[dict[str, str]]) -> str:
    columns = TARIFF_COLUMNS[name].split()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([row.get(c, "") for c in columns] for row in rows)
    return out.getvalue()


def _in_force(row: dict[str, str], day: date) -> bool:
    starts = row.get("valid_from", "")
    ends = row.get("valid_to", "")
    return starts <= day.isoformat() and (not ends or ends > day.isoformat())


def _rates_in_force(rates: list[dict[str, str]], day: date) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(r[k] for k in RATE_KEY): r for r in rates if _in_force(r, day)}


def _same_price(a: dict[str, str], b: dict[str, str]) -> bool:
    def norm(field: str, value: str) -> object:
        if field == "destination":
            return value
        if field == "connect_fee" and value == "":
            value = "0"
        try:
            return Decimal(value) if value != "" else None
        except ArithmeticError:
            return value

    return all(norm(f, a.get(f, "")) == norm(f, b.get(f, "")) for f in PRICE_FIELDS)


def write_folder(folder: Path, files: dict[str, list[dict[str, str]]]) -> Path:
    """A tariff folder (what `tollhouse rate` reads) from rows of text."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in DECK_FILES:
        (folder / f"{name}.csv").write_text(_render(name, files.get(name, [])), encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------------------------------------------
# Upload, list, read


def _read_upload(folder: Path) -> dict[str, str]:
    texts = {}
    for name in DECK_FILES:
        path = folder / f"{name}.csv"
        if path.is_file():
            texts[name] = path.read_text(encoding="utf-8")
    return texts


def read_folder(folder: Path) -> dict[str, list[dict[str, str]]]:
    """A tariff folder's rows by file (rate_plans, rates, time_bands, holidays)."""
    texts = _read_upload(folder)
    return {name: _parse(texts.get(name, ""), name) for name in DECK_FILES}


def _plan_of(texts: dict[str, str]) -> str:
    plans = sorted({r.get("rate_plan_id", "") for r in _parse(texts.get("rate_plans", ""), "rate_plans")})
    if len(plans) != 1:
        raise DeckError(f"rate_plans.csv: a deck holds exactly one rate plan, found {len(plans)}: {', '.join(plans)}")
    plan = plans[0]
    for name in ("rates", "time_bands", "holidays"):
        others = sorted({r.get("rate_plan_id", "") for r in _parse(texts.get(name, ""), name)} - {plan})
        if others:
            raise DeckError(f"{name}.csv: rate_plan_id {others[0]!r} is not the deck's plan {plan!r}")
    return plan


def upload(paths: Paths, folder: Path, kind: str, effective_from: date, by: str) -> DeckVersion:
    """Validate the tariff folder with the rules `tollhouse rate` applies and keep it as the next version of
    its deck, a draft. A deck that breaks a rule is refused (DeckError.problems lists each) and not kept."""
    kind, by = _kind(kind), _actor(by)
    problems = what_if.validate_tariff(folder)
    if problems:
        raise DeckError(f"{folder.name}: the deck breaks {len(problems)} tariff rule(s)", problems)
    texts = _read_upload(folder)
    plan = _plan_of(texts)
    with _store(paths) as con:
        version = con.execute(
            "select coalesce(max(version), 0) + 1 from deck_versions where kind = ? and rate_plan_id = ?", [kind, plan]
        ).fetchone()[0]
        now = _now()
        con.execute(
            """insert into deck_versions (kind, rate_plan_id, version, status, effective_from, uploaded_by,
               uploaded_at) values (?, ?, ?, 'draft', ?, ?, ?)""",
            [kind, plan, version, effective_from.isoformat(), by, now],
        )
        for name, text in texts.items():
            con.execute("insert into deck_files values (?, ?, ?, ?, ?)", [kind, plan, version, f"{name}.csv", text])
        _log(con, kind, plan, version, by, "uploaded", f"effective from {effective_from.isoformat()}")
        return _get(con, kind, plan, version)


def _log(con: sqlite3.Connection, kind: str, plan: str, version: int, actor: str, action: str, note: str) -> None:
    con.execute(
        "insert into deck_events (kind, rate_plan_id, version, at, actor, action, note) values (?, ?, ?, ?, ?, ?, ?)",
        [kind, plan, version, _now(), actor, action, note],
    )


def _get(con: sqlite3.Connection, kind: str, plan: str, version: int) -> DeckVersion:
    row = con.execute(
        "select * from deck_versions where kind = ? and rate_plan_id = ? and version = ?", [kind, plan, version]
    ).fetchone()
    if row is None:
        raise DeckError(f"deck: no version {version} of the {kind} deck {plan!r}")
    return _version(row)


def get(paths: Paths, kind: str, plan: str, version: int) -> DeckVersion:
    with _store(paths) as con:
        return _get(con, _kind(kind), plan, version)


def list_versions(paths: Paths, kind: str | None = None, plan: str | None = None) -> list[DeckVersion]:
    with _store(paths) as con:
        rows = con.execute(
            """select * from deck_versions where (? is null or kind = ?) and (? is null or rate_plan_id = ?)
               order by kind, rate_plan_id, version""",
            [kind, kind, plan, plan],
        ).fetchall()
    return [_version(r) for r in rows]


def history(paths: Paths, kind: str, plan: str) -> list[dict[str, object]]:
    with _store(paths) as con:
        rows = con.execute(
            "select version, at, actor, action, note from deck_events where kind = ? and rate_plan_id = ? "
            "order by event_id",
            [kind, plan],
        ).fetchall()
    return [dict(r) for r in rows]


def files(paths: Paths, kind: str, plan: str, version: int) -> dict[str, list[dict[str, str]]]:
    """A version's rows by file (rate_plans, rates, time_bands, holidays)."""
    with _store(paths) as con:
        _get(con, kind, plan, version)
        rows = con.execute(
            "select file_name, content from deck_files where kind = ? and rate_plan_id = ? and version = ?",
            [kind, plan, version],
        ).fetchall()
    found = {name.removesuffix(".csv"): _parse(content, name) for name, content in rows}
    return {name: found.get(name, []) for name in DECK_FILES}


# ---------------------------------------------------------------------------------------------------------------
# Diff


def diff_rates(old: list[dict[str, str]], new: list[dict[str, str]], day: date) -> list[RateChange]:
    """Prefixes added, removed and repriced between two decks' rates in force on `day`, per band and slot,
    in prefix order."""
    before, after = _rates_in_force(old, day), _rates_in_force(new, day)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is None:
            changes.append(RateChange("added", *key, b["destination"], "", b["rate"], ""))
        elif b is None:
            changes.append(RateChange("removed", *key, a["destination"], a["rate"], "", ""))
        elif not _same_price(a, b):
            differ = [f for f in PRICE_FIELDS if not _same_price({**a, f: a.get(f, "")}, {**a, f: b.get(f, "")})]
            detail = "; ".join(f"{f} {a.get(f, '') or '-'} -> {b.get(f, '') or '-'}" for f in differ)
            changes.append(RateChange("price changed", *key, b["destination"], a["rate"], b["rate"], detail))
    return changes


def diff(paths: Paths, kind: str, plan: str, old_version: int, new_version: int) -> list[RateChange]:
    """The rates of two versions of a deck compared as in force on the newer one's effective date."""
    newer = get(paths, kind, plan, new_version)
    old = files(paths, kind, plan, old_version)["rates"]
    new = files(paths, kind, plan, new_version)["rates"]
    return diff_rates(old, new, newer.effective_from)


# ---------------------------------------------------------------------------------------------------------------
# The deck the pipeline has now: its landed reference files, each key's latest delivery


def landed_deck(paths: Paths, kind: str, plan: str) -> dict[str, list[dict[str, str]]]:
    """The deck `plan` as the pipeline reads it from the landing area: every delivery of its files in
    delivery-day, path and line order, a later delivery of a key replacing the earlier (latest_version)."""
    source = KINDS[_kind(kind)]
    latest: dict[str, dict[tuple[str, ...], dict[str, str]]] = {name: {} for name in DECK_FILES}
    days, _ = landed_day_folders(paths.landing, source)
    for day in days:
        folder = paths.landing / source / day.isoformat()
        for name in DECK_FILES:
            for path in sorted(folder.glob(f"{name}*.csv")):
                for row in _parse(path.read_text(encoding="utf-8"), path.name):
                    if row.get("rate_plan_id") == plan:
                        latest[name][tuple(row.get(k, "") for k in LANDED_KEYS[name])] = row
    return {name: list(rows.values()) for name, rows in latest.items()}


def current_deck(paths: Paths, kind: str, plan: str) -> dict[str, list[dict[str, str]]]:
    """What a new version is compared and previewed against: the landed deck, the one the pipeline rates with."""
    return landed_deck(paths, kind, plan)


# ---------------------------------------------------------------------------------------------------------------
# Preview: last month's traffic re-rated with the new deck against the current one


PREVIEW_COLUMNS = (
    "destination", "calls", "revenue_old", "revenue_new", "revenue_diff", "cost_old", "cost_new", "cost_diff",
    "margin_old", "margin_new", "margin_diff",
)  # fmt: skip


def _timeless(files_: dict[str, list[dict[str, str]]], plan_id: str, day: date) -> dict[str, list[dict[str, str]]]:
    """The deck's rates in force on `day`, valid at every time, under the plan id `plan_id`: what a month of
    traffic from before the effective date would have cost with them."""
    rates = [
        {**r, "rate_plan_id": plan_id, "valid_from": "2000-01-01", "valid_to": ""}
        for r in _rates_in_force(files_["rates"], day).values()
    ]
    return {
        name: rates if name == "rates" else [{**r, "rate_plan_id": plan_id} for r in files_[name]]
        for name in DECK_FILES
    }


def preview_rows(
    kind: str,
    current: dict[str, list[dict[str, str]]],
    new: dict[str, list[dict[str, str]]],
    day: date,
    traffic: pa.Table,
) -> list[dict[str, object]]:
    """Revenue, cost and margin by destination with the current deck and the new one (rates in force on
    `day`), old, new and the difference, and a total row. `traffic` has call_id, b_number, answer_at
    (ISO 8601 with an offset), billable_seconds and `other_amount`: for a customer deck the call's vendor cost
    in its currency, for a vendor deck the call's price (in its currency, Decimal; null when unknown). Both
    decks price every call in one in-memory rating run (what_if.rate_call_table)."""
    import duckdb

    plan = (new.get("rate_plans") or current.get("rate_plans"))[0]["rate_plan_id"]
    sides = [("new", _timeless(new, f"{plan}~new", day))]
    if current.get("rate_plans"):  # a new plan has no current deck: every call is new revenue or cost
        sides.insert(0, ("old", _timeless(current, f"{plan}~old", day)))
    destinations = pa.Table.from_pylist(
        [{"prefix": p, "destination": d} for p, d in _destinations(current, new).items()],
        schema=pa.schema([("prefix", pa.string()), ("destination", pa.string())]),
    )
    with tempfile.TemporaryDirectory(prefix="tollhouse-preview-") as tmp, duckdb.connect() as con:
        deck = {name: [row for _, files_ in sides for row in files_[name]] for name in DECK_FILES}
        folder = write_folder(Path(tmp) / "deck", deck)
        con.register("traffic", traffic)
        con.register("destinations", destinations)
        # every call once per deck, under that deck's plan id, in one rating run
        requests = con.execute(
            f"""select side || '|' || call_id as call_id, ? || '~' || side as rate_plan_id,
                       null::varchar as account_id, cast(b_number as varchar) as b_number,
                       cast(answer_at as varchar) as answer_at, cast(billable_seconds as varchar) as billable_seconds
                from traffic cross join (values {", ".join(f"('{side}')" for side, _ in sides)}) as s(side)
                order by side, call_id""",
            [plan],
        ).to_arrow_table()
        con.register("rated", what_if.rate_call_table(folder, requests))
        revenue, cost = ("priced", "t.other_amount") if kind == "customer" else ("t.other_amount", "priced")
        zero = "cast(0 as decimal(18, 6))"
        frame = con.execute(
            f"""with priced as (
                    select split_part(call_id, '|', 1) as side, substr(call_id, strpos(call_id, '|') + 1) as call_id,
                           coalesce(cost, {zero}) as priced, nullif(matched_prefix, '') as matched_prefix
                    from rated
                ),
                both_sides as (
                    select t.call_id,
                           coalesce(d.destination, '(no destination)') as destination,
                           coalesce({revenue.replace("priced", "o.priced")}, {zero}) as revenue_old,
                           coalesce({revenue.replace("priced", "n.priced")}, {zero}) as revenue_new,
                           coalesce({cost.replace("priced", "o.priced")}, {zero}) as cost_old,
                           coalesce({cost.replace("priced", "n.priced")}, {zero}) as cost_new
                    from traffic t
                    join priced n on n.call_id = t.call_id and n.side = 'new'
                    left join priced o on o.call_id = t.call_id and o.side = 'old'
                    left join destinations d on d.prefix = coalesce(n.matched_prefix, o.matched_prefix)
                )
                select destination, count(*) as calls, sum(revenue_old) as revenue_old,
                       sum(revenue_new) as revenue_new, sum(cost_old) as cost_old, sum(cost_new) as cost_new
                from both_sides group by 1 order by 1"""
        ).fetchall()
    rows = [
        _with_margins(d, {"calls": n, "revenue_old": ro, "revenue_new": rn, "cost_old": co, "cost_new": cn})
        for d, n, ro, rn, co, cn in frame
    ]
    if rows:
        zero_ = Decimal(0)
        total = {k: sum((r[k] for r in rows), zero_ if k != "calls" else 0) for k in PREVIEW_COLUMNS[1:]}
        rows.append(_with_margins("Total", total))
    return rows


def _destinations(*decks: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """Each prefix's destination name, the newer deck's where both name it."""
    return {r["prefix"]: r["destination"] for deck in decks for r in deck.get("rates", []) if r.get("destination")}


def _with_margins(destination: str, g: dict[str, object]) -> dict[str, object]:
    row = {"destination": destination, "calls": g["calls"]}
    for what in ("revenue", "cost"):
        row[f"{what}_old"], row[f"{what}_new"] = g[f"{what}_old"], g[f"{what}_new"]
        row[f"{what}_diff"] = g[f"{what}_new"] - g[f"{what}_old"]
    row["margin_old"] = row["revenue_old"] - row["cost_old"]
    row["margin_new"] = row["revenue_new"] - row["cost_new"]
    row["margin_diff"] = row["margin_new"] - row["margin_old"]
    return {k: row[k] for k in PREVIEW_COLUMNS}


@contextmanager
def _warehouse(paths: Paths, why: str) -> Iterator:
    """A read-only connection to the warehouse for a moment; a DeckError saying why when there is none yet or a
    pipeline run is writing it (the one-writer rule)."""
    import duckdb

    from orchestration.warehouse import connect

    if not paths.warehouse.is_file():
        raise DeckError(f"{why}: no warehouse at {paths.warehouse}: run the pipeline first")
    try:
        with connect(paths.warehouse, read_only=True) as con:
            yield con
    except duckdb.IOException as error:
        raise DeckError(
            f"{why}: the warehouse is busy (a pipeline run is writing it); try again when it ends"
        ) from error


def last_month(paths: Paths) -> date:
    """The first day of the last whole month of rated traffic in the warehouse: the latest call's month when
    that call is on its last day, else the month before (a month under way previews a part of its traffic)."""
    with _warehouse(paths, "preview") as con:
        latest = con.execute("select max(call_date) from marts.fct_rated_calls").fetchone()[0]
    if latest is None:
        raise DeckError("preview: the warehouse has no rated calls yet: run the pipeline first")
    first = latest.replace(day=1)
    if _month_after(first) - latest == timedelta(days=1):
        return first
    return (first - timedelta(days=1)).replace(day=1)


def month_traffic(paths: Paths, kind: str, plan: str, month: date) -> pa.Table:
    """The month's rated calls that the deck priced (customer: the account's plan; vendor: the route's deck),
    with the other side's amount: one set-based read of marts.fct_rated_calls."""
    if kind == "customer":
        other, fx_join, deck_column = "c.vendor_cost_in_currency", "", "rate_plan_id"
    else:  # the call's price in the deck's currency, at the day's rate the margin is computed with
        other = "case when c.currency = c.vendor_currency then c.cost else cast(c.cost / fx.rate as decimal(18, 6)) end"
        fx_join = """left join intermediate.int_fx_rates_carried_forward fx
                     on fx.rate_day = cast(coalesce(c.answer_at, c.start_at) as date)
                     and fx.base_currency = c.vendor_currency and fx.quote_currency = c.currency"""
        deck_column = "vendor_rate_plan_id"
    with _warehouse(paths, "preview") as con:
        return con.execute(
            f"""select c.call_id, c.b_number,
                           strftime(coalesce(c.answer_at, c.start_at), '%Y-%m-%dT%H:%M:%S+00:00') as answer_at,
                           c.billable_seconds, {other} as other_amount
                    from marts.fct_rated_calls c
                    {fx_join}
                    where c.{deck_column} = ? and c.call_date >= ? and c.call_date < ? + interval 1 month
                    order by c.call_id""",
            [plan, month, month],
        ).to_arrow_table()


def preview(paths: Paths, kind: str, plan: str, version: int, month: date) -> list[dict[str, object]]:
    """A stored version previewed on the month's traffic against the deck the pipeline has now."""
    deck = get(paths, kind, plan, version)
    traffic = month_traffic(paths, kind, plan, month)
    return preview_rows(kind, current_deck(paths, kind, plan), files(paths, kind, plan, version),
                        deck.effective_from, traffic)  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Approve and publish


def approve(paths: Paths, kind: str, plan: str, version: int, by: str) -> DeckVersion:
    """A second person approves a draft: the uploader cannot approve their own deck."""
    by = _actor(by)
    with _store(paths) as con:
        deck = _get(con, _kind(kind), plan, version)
        if deck.status != "draft":
            raise DeckError(f"{deck.label}: status is {deck.status}; only a draft can be approved")
        if by == deck.uploaded_by:
            raise DeckError(f"{deck.label}: by {by!r} uploaded it; another person must approve it")
        con.execute(
            "update deck_versions set status = 'approved', approved_by = ?, approved_at = ? "
            "where kind = ? and rate_plan_id = ? and version = ?",
            [by, _now(), kind, plan, version],
        )
        _log(con, kind, plan, version, by, "approved", "")
        return _get(con, kind, plan, version)


def closed_through(paths: Paths) -> date | None:
    """The last closed billing period (its first day), from the warehouse's period log; None when none is."""
    if not paths.warehouse.is_file():
        return None
    with _warehouse(paths, "publish") as con:
        has_log = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'billing' and table_name = 'period_log'"
        ).fetchone()[0]
        if not has_log:
            return None
        return con.execute(
            """select max(billing_period) from (select billing_period, arg_max(action, acted_at) as last
               from billing.period_log group by 1) where last = 'close'"""
        ).fetchone()[0]


def _month_after(first_day: date) -> date:
    return date(first_day.year + first_day.month // 12, first_day.month % 12 + 1, 1)


def publication(
    current: dict[str, list[dict[str, str]]], new: dict[str, list[dict[str, str]]], effective: date
) -> dict[str, list[dict[str, str]]]:
    """The rows to deliver so that the pipeline's deck becomes `new` from `effective` and stays `current`
    before it: rates in force at `effective` that change or go re-delivered ending on it (the same version key,
    so the delivery replaces them), new or changed ones starting on it, later-dated new rows as they are. A
    new plan is delivered whole, its rates starting on `effective` at the earliest. Plan settings, time bands
    and holidays are not dated: a change to them would reprice calls already billed, so it is refused."""
    day = effective.isoformat()
    if not current.get("rate_plans"):  # a new plan: whole, its rates from the effective date on
        rates = [
            {**r, "valid_from": max(r["valid_from"], day)}
            for r in new["rates"]
            if not (r.get("valid_to") and r["valid_to"] <= day)
        ]
        return {**{name: list(new[name]) for name in DECK_FILES}, "rates": rates}
    for name in ("rate_plans", "time_bands", "holidays"):
        if _canonical(name, current[name]) != _canonical(name, new[name]):
            raise DeckError(
                f"{name}.csv: differs from the published deck; {name.replace('_', ' ')} are not dated, so a change "
                "would reprice calls already billed: publish it as a new rate plan"
            )
    later = [r for r in current["rates"] if r["valid_from"] >= day]
    wanted = {tuple(r.get(k, "") for k in LANDED_KEYS["rates"]): r for r in new["rates"]}
    for r in later:
        same = wanted.get(tuple(r.get(k, "") for k in LANDED_KEYS["rates"]))
        if same is None or not _same_price(r, same) or same.get("valid_to", "") != r.get("valid_to", ""):
            raise DeckError(
                f"effective_from: the published deck has a rate for prefix {r['prefix']} starting {r['valid_from']}, "
                f"on or after {day}; choose a later effective date"
            )
    before, after = _rates_in_force(current["rates"], effective), _rates_in_force(new["rates"], effective)
    delivered = []
    for key in sorted(before.keys() | after.keys()):
        old, now = before.get(key), after.get(key)
        if old and now and _same_price(old, now) and old.get("valid_to", "") == now.get("valid_to", ""):
            continue
        if old:
            delivered.append({**old, "valid_to": day})
        if now:
            delivered.append({**now, "valid_from": day})
    delivered += [r for r in new["rates"] if r["valid_from"] > day and r not in later]
    return {"rate_plans": [], "rates": delivered, "time_bands": [], "holidays": []}


def _canonical(name: str, rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return sorted(tuple(r.get(c, "") for c in TARIFF_COLUMNS[name].split()) for r in rows)


def publish(paths: Paths, kind: str, plan: str, version: int, by: str) -> DeckVersion:
    """Land an approved version for the pipeline, from its effective date (see `publication`)."""
    by = _actor(by)
    deck = get(paths, _kind(kind), plan, version)
    if deck.status != "approved":
        raise DeckError(f"{deck.label}: status is {deck.status}; only an approved deck can be published")
    closed = closed_through(paths)
    if closed is not None and deck.effective_from < _month_after(closed):
        raise DeckError(
            f"effective_from: {deck.effective_from.isoformat()} is in or before the closed billing period "
            f"{closed:%Y-%m}, whose calls keep their price; choose {_month_after(closed).isoformat()} or later"
        )
    current = current_deck(paths, kind, plan)
    new = files(paths, kind, plan, version)
    delivery = publication(current, new, deck.effective_from)
    # the deck the pipeline will have, checked with the rating rules before anything lands
    combined = {name: _merge(name, current[name], delivery[name]) for name in DECK_FILES}
    with tempfile.TemporaryDirectory(prefix="tollhouse-publish-") as tmp:
        problems = what_if.validate_tariff(write_folder(Path(tmp) / plan, combined))
    if problems:
        raise DeckError(f"{deck.label}: the published deck would break {len(problems)} tariff rule(s)", problems)
    folder = paths.landing / KINDS[kind] / deck.effective_from.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with _store(paths) as con:
        if _get(con, kind, plan, version).status != "approved":
            raise DeckError(f"{deck.label}: another person acted on it meanwhile; look again")
        written = []
        for name in DECK_FILES:
            if delivery[name]:
                # sorts after the day's other files of the entity: its rows win as the latest delivery
                target = folder / f"{name}_{plan}_v{version:04d}.csv"
                target.write_text(_render(name, delivery[name]), encoding="utf-8")
                written.append(target.name)
        con.execute(
            "update deck_versions set status = 'published', published_by = ?, published_at = ?, landed_in = ? "
            "where kind = ? and rate_plan_id = ? and version = ?",
            [by, _now(), str(folder), kind, plan, version],
        )
        _log(con, kind, plan, version, by, "published", f"landed {', '.join(written) or 'no change'} in {folder}")
        return _get(con, kind, plan, version)


def _merge(name: str, rows: list[dict[str, str]], delivered: list[dict[str, str]]) -> list[dict[str, str]]:
    keyed = {tuple(r.get(k, "") for k in LANDED_KEYS[name]): r for r in rows}
    keyed.update({tuple(r.get(k, "") for k in LANDED_KEYS[name]): r for r in delivered})
    return list(keyed.values())
