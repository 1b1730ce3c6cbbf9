"""Revenue-assurance cases: the analysts' side of the leakage findings (docs/assurance.md).

The controls' findings (marts.fct_leakage_findings) are rebuilt on every pipeline run; the work done on
them is not. Cases, their owners, statuses, notes and recovered amounts live in a small SQLite database
beside the warehouse (Paths.cases), never in the warehouse: dbt may drop and rebuild any table there, and
an analyst's edit must survive every run. SQLite also lets an analyst write while a pipeline run holds the
DuckDB file.

After each run `sync_findings` attaches the current findings to cases. A finding keeps its case for life;
a new finding joins the one open case of its group (control, account, period, currency: every finding
type of the control) or starts one, unless the group's new findings all carry money and add up to less
than the materiality threshold in the reporting currency: then they are filed below materiality, and a
case opens when later findings of the group take it over the threshold. Sync writes only what the pipeline
owns (which findings a case has, their amounts, whether the last run still produced them); status, owner,
notes and recovered amounts are the analysts' and only their operations change them. Every change is one
transaction and leaves an event in the case's history, which is append-only.

What a case recovered (or, for a refund owed to the customer, refunded) is the sum of the effective entries of
its append-only ledger: bounded by the case's value unless an override, approved by a second person above
ra_recovery_approval_above or for an override, and corrected by reversing entries, never in place.

Money is Decimal, stored as text: SQLite's numbers are floats, and 0.1 + 0.2 must stay 0.3. The fraud alert
queue shares this store (alert_queue.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

SCHEMA_VERSION = 4
BUSY_TIMEOUT_S = 10.0  # a writer waits this long for another's transaction before giving up
SYNC_ACTOR = "pipeline"  # the actor of the events sync writes

# decimals of the currencies that do not have two (ISO 4217); every other currency shows two
MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3}

# The case workflow: status -> the statuses it may move to. The one place the workflow is defined.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("investigating", "cancelled"),
    "investigating": ("confirmed", "cancelled"),
    "confirmed": ("recovery_pending", "refund_due", "not_recoverable", "cancelled"),
    "recovery_pending": ("recovered", "not_recoverable", "cancelled"),
    "refund_due": ("refunded", "cancelled"),  # over-billing: money owed back to the customer, not revenue
    "recovered": ("closed",),
    "refunded": ("closed",),
    "not_recoverable": ("closed",),
    "closed": (),
    "cancelled": (),
}
STATUSES = tuple(TRANSITIONS)
TERMINAL = tuple(status for status, following in TRANSITIONS.items() if not following)
# A refund case (its findings over-billed the customer) is worked to refunded, a revenue case to recovered:
# each kind is refused the other's statuses.
REFUND_ONLY = ("refund_due", "refunded")
REVENUE_ONLY = ("recovery_pending", "recovered")

# Migrations: MIGRATIONS[n] brings a store from version n to n + 1. Version 1 is the case store; later
# versions add tables beside it (version 2: fraud alerts and their labels; version 3: cases roll up by control,
# account, period and currency, findings below materiality), never by editing these statements.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "create table schema_version (version integer not null)",
        """create table cases (
            case_id          text primary key,  -- CASE-000001
            group_key        text not null,     -- JSON [control_id, finding_type, account_id, period, currency]
            title            text not null,
            control_id       text not null,
            finding_type     text not null,
            account_id       text,              -- null for switch-level findings
            billing_period   text not null,     -- YYYY-MM-DD
            currency         text,              -- null for findings without money (a file, a switch-day)
            status           text not null,
            owner            text,
            leakage_amount   text not null,     -- decimal as text: the sum of the findings still present
            recovered_amount text,              -- decimal as text; null until an analyst sets it
            created_at       text not null,     -- ISO 8601 UTC, as are the other timestamps
            updated_at       text not null,
            recovered_at     text,
            closed_at        text               -- entering closed or cancelled
        )""",
        # At most one non-terminal case per group: where sync attaches a new finding is never ambiguous.
        "create unique index cases_one_open_per_group on cases (group_key) where status not in "
        f"({', '.join(repr(status) for status in TERMINAL)})",
        "create index cases_status on cases (status, owner)",
        """create table case_findings (
            finding_id     text primary key,  -- a finding belongs to exactly one case
            case_id        text not null references cases (case_id),
            attached_at    text not null,
            leakage_amount text not null,     -- as last produced; kept when the finding is gone
            last_seen_at   text not null,
            present        integer not null check (present in (0, 1))  -- produced by the last sync
        )""",
        "create index case_findings_case on case_findings (case_id)",
        """create table case_events (
            event_id    integer primary key,
            case_id     text not null references cases (case_id),
            at          text not null,
            actor       text not null,
            action      text not null,
            from_status text,
            to_status   text,
            note        text,
            amount      text
        )""",
        "create index case_events_case on case_events (case_id, event_id)",
        """create trigger case_events_no_update before update on case_events
            begin select raise(abort, 'case history is append-only'); end""",
        """create trigger case_events_no_delete before delete on case_events
            begin select raise(abort, 'case history is append-only'); end""",
        "insert into schema_version values (0)",
    ),
    (  # version 2: fraud alerts and analysts' decisions on them, the labels of later training
        """create table fraud_alerts (
            alert_id        text primary key,  -- FA-..., stable across runs (marts.fct_fraud_alerts)
            account_id      text not null,
            raised_at       text not null,     -- traffic time (UTC) of the call that triggered it
            last_trigger_at text not null,
            exposure_eur    text not null,     -- decimal as text, as last produced
            rules_hit       text not null,     -- JSON list
            model_score     real,
            status          text not null check (status in ('open', 'confirmed', 'dismissed')),
            decided_by      text,
            decided_at      text,
            note            text,
            filed_at        text not null
        )""",
        "create index fraud_alerts_status on fraud_alerts (status, raised_at)",
        """create table fraud_alert_events (
            event_id  integer primary key,
            alert_id  text not null references fraud_alerts (alert_id),
            at        text not null,
            actor     text not null,
            action    text not null,  -- filed | confirmed | dismissed | reopened
            note      text
        )""",
        """create trigger fraud_alert_events_no_update before update on fraud_alert_events
            begin select raise(abort, 'alert history is append-only'); end""",
        """create trigger fraud_alert_events_no_delete before delete on fraud_alert_events
            begin select raise(abort, 'alert history is append-only'); end""",
    ),
    (  # version 3: one case per control, account, period and currency (every finding type of the control),
        # a finding's direction (recovered revenue counts under-billing and collection only), and the findings
        # filed below materiality. An open case of the old grouping keeps its findings; where two open cases
        # now share a group, the oldest takes the group's new findings and the others keep a key of their own.
        "alter table case_findings add column direction text",  # null: filed before version 3
        "alter table case_findings add column finding_type text",  # null: filed before version 3
        "update cases set group_key = json_array(control_id, account_id, billing_period, currency) || '#' || case_id",
        "update cases set group_key = json_array(control_id, account_id, billing_period, currency) "
        "where case_id in (select min(case_id) from cases "
        f"where status not in ({', '.join(repr(status) for status in TERMINAL)}) "
        "group by control_id, account_id, billing_period, currency)",
        """create table findings_below_materiality (
            finding_id        text primary key,  -- filed, no case opened: its group is below the threshold
            group_key         text not null,     -- as a case's
            control_id        text not null,
            finding_type      text not null,
            account_id        text,
            billing_period    text not null,
            currency          text,
            direction         text not null,
            leakage_amount    text not null,     -- decimal as text, as last produced
            leakage_reporting text,              -- the same in the reporting currency (null: no rate known)
            filed_at          text not null,
            last_seen_at      text not null,
            present           integer not null check (present in (0, 1))
        )""",
        "create index findings_below_materiality_group on findings_below_materiality (group_key)",
    ),
    (  # version 4: recovered (or refunded) amounts as an append-only ledger of entries, an entry above the
        # approval threshold or above the case's value effective only once a second person approves it; and
        # each finding's evidence kept with it, so that a case can be shown without the warehouse
        """create table case_recovery_entries (
            entry_id       integer primary key,
            case_id        text not null references cases (case_id),
            action         text not null check (action in ('recorded', 'reversal', 'migrated')),
            amount         text not null,     -- signed decimal as text; a reversal is the negative of its entry
            reverses       integer references case_recovery_entries (entry_id),
            override       integer not null check (override in (0, 1)),  -- above the case's value
            needs_approval integer not null check (needs_approval in (0, 1)),
            entered_by     text not null,
            entered_at     text not null,
            reason         text
        )""",
        "create index case_recovery_entries_case on case_recovery_entries (case_id, entry_id)",
        """create table case_recovery_decisions (
            entry_id   integer primary key references case_recovery_entries (entry_id),  -- one decision
            decision   text not null check (decision in ('approved', 'rejected')),
            decided_by text not null,
            decided_at text not null,
            reason     text not null
        )""",
        """create trigger case_recovery_entries_no_update before update on case_recovery_entries
            begin select raise(abort, 'the recovery ledger is append-only'); end""",
        """create trigger case_recovery_entries_no_delete before delete on case_recovery_entries
            begin select raise(abort, 'the recovery ledger is append-only'); end""",
        """create trigger case_recovery_decisions_no_update before update on case_recovery_decisions
            begin select raise(abort, 'the recovery ledger is append-only'); end""",
        """create trigger case_recovery_decisions_no_delete before delete on case_recovery_decisions
            begin select raise(abort, 'the recovery ledger is append-only'); end""",
        # the amount each case had becomes its first entry, so that the ledger adds up to it
        "insert into case_recovery_entries (case_id, action, amount, override, needs_approval, entered_by, "
        "entered_at, reason) select case_id, 'migrated', recovered_amount, 0, 0, 'migration', updated_at, "
        "'recovered amount recorded before the ledger' from cases "
        "where recovered_amount is not null and cast(recovered_amount as real) != 0 order by case_id",
        "alter table case_findings add column leakage_area text",
        "alter table case_findings add column expected_amount text",
        "alter table case_findings add column billed_amount text",
        "alter table case_findings add column detail text",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION


class CaseError(Exception):
    """A case operation that cannot be done, with the reason in words."""


@dataclass(frozen=True)
class Finding:
    """One row of marts.fct_leakage_findings: what sync needs, and the rest for whoever reads it."""

    finding_id: str  # stable across pipeline re-runs
    control_id: str
    leakage_area: str
    finding_type: str
    account_id: str | None  # null for switch-level findings
    billing_period: date
    currency: str | None
    expected_amount: Decimal | None
    billed_amount: Decimal | None
    leakage_amount: Decimal  # >= 0
    direction: str  # under_billing | over_billing | cost | collection | none
    evidence_call_ids: tuple[str, ...] = ()
    detail: str | None = None
    leakage_reporting: Decimal | None = None  # in the reporting currency; None when no rate is known


@dataclass(frozen=True)
class Case:
    case_id: str
    title: str
    control_id: str
    finding_type: str  # the finding types of its findings, sorted, '|'-separated
    account_id: str | None
    billing_period: date
    currency: str | None
    status: str
    owner: str | None
    leakage_amount: Decimal
    recovered_amount: Decimal | None
    created_at: datetime
    updated_at: datetime
    recovered_at: datetime | None
    closed_at: datetime | None
    # refund: its findings over-billed the customer (what it "recovers" is refunded, never revenue);
    # revenue: the others (under-billing, collection, cost, or filed before findings had a direction)
    kind: str = "revenue"

    @property
    def value(self) -> Decimal:
        """What can be recovered (or refunded) on the case without an approved override: its leakage, or the
        leakage as shown at its currency's decimals (half up) when that is more: recovering the 39.35 shown
        for 39.345 is recovering it all."""
        places = MINOR_UNITS.get(self.currency or "", 2)
        return max(self.leakage_amount, self.leakage_amount.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


@dataclass(frozen=True)
class CaseFinding:
    finding_id: str
    attached_at: datetime
    leakage_amount: Decimal
    last_seen_at: datetime
    present: bool
    # the evidence as the last sync saw it (None: filed before version 4 and not seen since)
    finding_type: str | None = None
    direction: str | None = None
    leakage_area: str | None = None
    expected_amount: Decimal | None = None
    billed_amount: Decimal | None = None
    detail: str | None = None


@dataclass(frozen=True)
class RecoveryEntry:
    """One entry of a case's recovery ledger: an amount recorded, a reversal of one, or the amount a case had
    before the ledger (migrated). Its state: effective (counts), pending (awaits a second person's approval),
    rejected, or reversed (effective once, taken back by a reversal that counts instead)."""

    entry_id: int
    action: str  # recorded | reversal | migrated
    amount: Decimal  # negative for a reversal
    reverses: int | None
    override: bool
    entered_by: str
    entered_at: datetime
    reason: str | None
    state: str  # effective | pending | rejected | reversed
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None


@dataclass(frozen=True)
class CaseEvent:
    event_id: int
    at: datetime
    actor: str
    action: str  # created | finding_attached | leakage_changed | findings_gone | findings_back | assigned
    # | status_changed | note | recovered_set (before version 4) | recovery_recorded | recovery_reversed
    # | recovery_approved | recovery_rejected
    from_status: str | None
    to_status: str | None
    note: str | None
    amount: Decimal | None


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    findings: tuple[CaseFinding, ...]
    events: tuple[CaseEvent, ...]
    entries: tuple[RecoveryEntry, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    new_cases: int
    findings_attached: int  # findings seen for the first time
    findings_gone: int  # findings present before this sync and not produced now
    below_materiality: int = 0  # findings of this sync filed below materiality (no case)


@dataclass(frozen=True)
class BelowMateriality:
    """A finding filed without a case: its group's findings outside any case add up to less than the
    materiality threshold."""

    finding_id: str
    control_id: str
    finding_type: str
    account_id: str | None
    billing_period: date
    currency: str | None
    direction: str
    leakage_amount: Decimal
    leakage_reporting: Decimal | None
    filed_at: datetime
    last_seen_at: datetime
    present: bool


# --- the store -----------------------------------------------------------------------------------------


def connect(store_path: Path, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open the store (creating it, or bringing its schema up to date) in autocommit mode: callers open
    their own transactions. WAL lets readers go on while one writer writes; a second writer waits up
    to `timeout` seconds."""
    store_path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(store_path), timeout=timeout, isolation_level=None)
    try:
        con.execute(f"pragma busy_timeout = {int(timeout * 1000)}")
        con.execute("pragma journal_mode = wal")
        con.execute("pragma foreign_keys = on")
        _migrate(con, store_path)
    except BaseException:
        con.close()
        raise
    return con


def _version(con: sqlite3.Connection) -> int:
    if not con.execute("select 1 from sqlite_master where type = 'table' and name = 'schema_version'").fetchone():
        return 0
    return con.execute("select max(version) from schema_version").fetchone()[0] or 0


def _migrate(con: sqlite3.Connection, store_path: Path) -> None:
    if _version(con) == SCHEMA_VERSION:
        return  # the usual case: no write lock taken
    con.execute("begin immediate")
    try:
        version = _version(con)  # again, under the lock: another process may have just created it
        if version > SCHEMA_VERSION:
            raise CaseError(
                f"the case store {store_path} has schema version {version}, newer than this tollhouse "
                f"knows ({SCHEMA_VERSION}): upgrade tollhouse rather than risk its data"
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                con.execute(statement)
        con.execute("update schema_version set version = ?", [SCHEMA_VERSION])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


@contextmanager
def _transaction(store_path: Path, write: bool) -> Iterator[sqlite3.Connection]:
    """One transaction on its own connection: committed if the block ends normally, else rolled back."""
    try:
        con = connect(store_path)
    except sqlite3.OperationalError as exc:
        raise CaseError(f"cannot open the case store {store_path}: {exc}") from exc
    try:
        try:
            con.execute("begin immediate" if write else "begin")
        except sqlite3.OperationalError as exc:  # waited BUSY_TIMEOUT_S for another writer
            raise CaseError(f"the case store is busy (another writer holds it); try again ({exc})") from exc
        try:
            yield con
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.close()


# --- values --------------------------------------------------------------------------------------------


def _money(value: object, what: str) -> Decimal:
    """A Decimal from a Decimal, int or numeric string; floats are refused (they cannot hold 0.1)."""
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int | str):
        raise CaseError(f"{what} must be a Decimal, an int or a decimal string, not {type(value).__name__}")
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise CaseError(f"{what} is not a number: {value!r}") from exc
    if not amount.is_finite():
        raise CaseError(f"{what} must be a finite number, got {value!r}")
    return amount


def _text(amount: Decimal) -> str:
    return format(amount, "f")  # never exponent notation: '0.000001', not '1E-6'


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _stamp(now: datetime | None) -> str:
    """ISO 8601 in UTC; a naive datetime is taken to be UTC."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).isoformat(timespec="seconds")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _who(actor: str) -> str:
    if not actor or not actor.strip():
        raise CaseError("every change to a case needs an actor: who made it")
    return actor.strip()


def _group_key(finding: Finding) -> str:
    # JSON keeps a null account apart from an empty one. Currency is part of the key so that a case's
    # leakage never adds two currencies (an account bills in one; switch-level findings may not). Written as
    # SQLite's json_array writes it (the version 3 migration computes the keys of existing cases in SQL).
    return json.dumps(
        [finding.control_id, finding.account_id, finding.billing_period.isoformat(), finding.currency],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _title(control_id: str, types: str, account_id: str | None, period: date) -> str:
    return f"{control_id} {types.replace('|', ', ')}: {account_id or 'switch level'} {period:%Y-%m}"


MONEY_DIRECTIONS = ("under_billing", "over_billing", "collection", "cost")
REVENUE_DIRECTIONS = ("under_billing", "collection")  # what a recovery brings back from the customer


def _carries_money(finding: Finding) -> bool:
    """A finding valued in a currency; the others (a file, a switch-day, a call in suspense) are signals whose
    money is unknown, and materiality cannot judge them."""
    return finding.currency is not None and finding.direction in MONEY_DIRECTIONS


CASE_COLUMNS = (
    "case_id, title, control_id, finding_type, account_id, billing_period, currency, status, owner, "
    "leakage_amount, recovered_amount, created_at, updated_at, recovered_at, closed_at, "
    # the directions of its findings ('-': filed before findings had one), for its kind
    "(select group_concat(distinct coalesce(cf.direction, '-')) from case_findings cf "
    "where cf.case_id = cases.case_id)"
)


def case_kind(directions: Iterable[str | None], finding_types: str) -> str:
    """refund when the customer was over-billed: every finding with a direction is over-billing (or RA-24's
    refund owed); revenue otherwise, a mix included (its recovery is revenue; the over-billing part of a
    mixed case is a limit noted in docs/assurance.md)."""
    seen = {d or "-" for d in directions}
    if "-" in seen or seen & set(REVENUE_DIRECTIONS):
        return "revenue"
    if "over_billing" in seen or "refund_owed" in finding_types.split("|"):
        return "refund"
    return "revenue"


def _case(row: tuple) -> Case:
    (case_id, title, control, kind, account, period, currency, status, owner, leakage, recovered, *stamps,
     directions) = row  # fmt: skip
    created, updated, recovered_at, closed = (_time(stamp) for stamp in stamps)
    return Case(
        case_id,
        title,
        control,
        kind,
        account,
        date.fromisoformat(period),
        currency,
        status,
        owner,
        Decimal(leakage),
        _decimal(recovered),
        created,
        updated,
        recovered_at,
        closed,
        case_kind((directions or "").split(",") if directions else [], kind),
    )


def _load(con: sqlite3.Connection, case_id: str) -> Case:
    row = con.execute(f"select {CASE_COLUMNS} from cases where case_id = ?", [case_id]).fetchone()
    if row is None:
        raise CaseError(f"no case {case_id!r}")
    return _case(row)


def _event(
    con: sqlite3.Connection,
    case_id: str,
    at: str,
    actor: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    amount: Decimal | None = None,
) -> None:
    con.execute(
        "insert into case_events (case_id, at, actor, action, from_status, to_status, note, amount) "
        "values (?, ?, ?, ?, ?, ?, ?, ?)",
        [case_id, at, actor, action, from_status, to_status, note, None if amount is None else _text(amount)],
    )


# --- sync ----------------------------------------------------------------------------------------------


def ra_settings() -> dict:
    """The dbt project's vars the case side reads: the reporting currency and the case materiality."""
    import yaml

    from orchestration.settings import DBT_PROJECT_DIR

    variables = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    return {
        "reporting_currency": str(variables.get("reporting_currency", "EUR")),
        "ra_case_materiality": Decimal(str(variables.get("ra_case_materiality", 0))),
        "ra_recovery_approval_above": Decimal(str(variables.get("ra_recovery_approval_above", 0))),
    }


def read_findings(con: duckdb.DuckDBPyConnection, reporting_currency: str | None = None) -> list[Finding]:
    """The current findings from the warehouse's marts.fct_leakage_findings, without their evidence (sync
    does not need it; the mart keeps it), each with its leakage in the reporting currency at the FX rate of
    its period's last day (intermediate.int_fx_rates_carried_forward; None when no rate is known)."""
    reporting = reporting_currency or ra_settings()["reporting_currency"]
    (has_fx,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'intermediate' "
        "and table_name = 'int_fx_rates_carried_forward'"
    ).fetchone()
    fx_join = (
        "left join intermediate.int_fx_rates_carried_forward fx on fx.base_currency = f.currency "
        "and fx.quote_currency = $reporting and fx.rate_day = last_day(f.billing_period)"
        if has_fx
        else "left join (select null::decimal(18, 6) as rate) fx on false"
    )
    rows = con.execute(
        f"""select f.finding_id, f.control_id, f.leakage_area, f.finding_type, f.account_id, f.billing_period,
                   f.currency, f.expected_amount, f.billed_amount, f.leakage_amount, f.direction, f.detail,
                   case when f.currency = $reporting then f.leakage_amount
                        else cast(f.leakage_amount * fx.rate as decimal(18, 6)) end
            from marts.fct_leakage_findings f {fx_join}
            order by f.finding_id""",
        {"reporting": reporting},
    ).fetchall()
    return [Finding(*row[:11], detail=row[11], leakage_reporting=row[12]) for row in rows]


def sync_findings(
    store_path: Path,
    findings: Iterable[Finding],
    now: datetime | None = None,
    materiality: Decimal | int | str = 0,
) -> SyncResult:
    """Attach every current finding to a case, in one transaction; call it after each pipeline run with all
    the findings the run produced. Idempotent: the same findings again change no case and write no event
    (only the findings' last_seen_at moves to `now`).

    A new finding joins the open case of its group (control, account, period, currency). A group without
    one opens a case for its new findings unless they all carry money and their leakage in the reporting
    currency adds up to less than `materiality`: then they are filed below materiality, without a case, until
    a later run's findings of the group reach the threshold and open one (taking them along)."""
    threshold = _money(materiality, "the materiality threshold")
    if threshold < 0:
        raise CaseError(f"the materiality threshold cannot be negative ({threshold})")
    current: dict[str, Finding] = {}
    amounts: dict[str, Decimal] = {}
    for finding in findings:
        if finding.finding_id in current:
            raise CaseError(f"finding {finding.finding_id!r} was produced twice")
        amount = _money(finding.leakage_amount, f"the leakage amount of finding {finding.finding_id}")
        if amount < 0:
            raise CaseError(f"finding {finding.finding_id} has a negative leakage amount ({amount})")
        if finding.leakage_reporting is not None:
            _money(finding.leakage_reporting, f"the reporting-currency leakage of finding {finding.finding_id}")
        current[finding.finding_id], amounts[finding.finding_id] = finding, amount
    at = _stamp(now)
    new_cases = attached = gone = filed_below = 0
    with _transaction(store_path, write=True) as con:
        known = {
            finding_id: (case_id, Decimal(amount), present)
            for finding_id, case_id, amount, present in con.execute(
                "select finding_id, case_id, leakage_amount, present from case_findings"
            )
        }
        open_cases = dict(
            con.execute(
                f"select group_key, case_id from cases where status not in ({', '.join('?' * len(TERMINAL))})", TERMINAL
            ).fetchall()
        )
        before = dict(con.execute("select case_id, sum(present) from case_findings group by case_id").fetchall())
        touched: set[str] = set()
        created: set[str] = set()
        new: dict[str, list[Finding]] = {}
        for finding in current.values():
            if finding.finding_id not in known:
                new.setdefault(_group_key(finding), []).append(finding)
                continue
            # attached for life; the pipeline's figures are refreshed
            amount = _text(amounts[finding.finding_id])
            case_id, previous, present = known[finding.finding_id]
            if amounts[finding.finding_id] != previous or not present:
                touched.add(case_id)
            else:
                amount = _text(previous)  # the same number: keep its text, so that nothing changes
            con.execute(
                "update case_findings set leakage_amount = ?, present = 1, last_seen_at = ?, "
                "direction = coalesce(direction, ?), finding_type = coalesce(finding_type, ?), leakage_area = ?, "
                "expected_amount = ?, billed_amount = ?, detail = ? where finding_id = ?",
                [amount, at, finding.direction, finding.finding_type, *_evidence(finding), finding.finding_id],
            )
        # Sorted so that case ids are given out in the same order for the same findings.
        for key in sorted(new):
            group = sorted(new[key], key=lambda f: f.finding_id)
            case_id = open_cases.get(key)
            if case_id is None and _below(group, threshold):
                for finding in group:
                    _file_below(con, finding, key, amounts[finding.finding_id], at)
                filed_below += len(group)
                continue
            if case_id is None:
                case_id = _new_case(con, group[0], key, at)
                open_cases[key] = case_id
                created.add(case_id)
                new_cases += 1
            for finding in group:
                con.execute("delete from findings_below_materiality where finding_id = ?", [finding.finding_id])
                con.execute(
                    "insert into case_findings (finding_id, case_id, attached_at, leakage_amount, last_seen_at, "
                    "present, direction, finding_type, leakage_area, expected_amount, billed_amount, detail) "
                    "values (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                    [finding.finding_id, case_id, at, _text(amounts[finding.finding_id]), at, finding.direction,
                     finding.finding_type, *_evidence(finding)],
                )  # fmt: skip
                _event(con, case_id, at, SYNC_ACTOR, "finding_attached", note=finding.finding_id,
                       amount=amounts[finding.finding_id])  # fmt: skip
                _add_type(con, case_id, finding.finding_type)
                attached += 1
            touched.add(case_id)
        for finding_id, (case_id, _, present) in known.items():
            if present and finding_id not in current:
                con.execute("update case_findings set present = 0 where finding_id = ?", [finding_id])
                touched.add(case_id)
                gone += 1
        for (finding_id,) in con.execute(
            "select finding_id from findings_below_materiality where present = 1"
        ).fetchall():
            if finding_id not in current:
                con.execute("update findings_below_materiality set present = 0 where finding_id = ?", [finding_id])
        for case_id in sorted(touched):
            _refresh_leakage(con, case_id, at, before.get(case_id, 0), case_id in created)
    return SyncResult(new_cases, attached, gone, filed_below)


def _evidence(finding: Finding) -> list:
    """What a finding shows an analyst (area, expected, billed, detail), as the case store keeps it."""
    # normalised: the same number at another scale is the same text (a re-run writes nothing new)
    money = [
        None if v is None else _text(Decimal(v).normalize()) for v in (finding.expected_amount, finding.billed_amount)
    ]
    return [finding.leakage_area, *money, finding.detail]


def _below(group: list[Finding], threshold: Decimal) -> bool:
    """A group's new findings stay below materiality when they all carry money, their value in the
    reporting currency is known and adds up to less than the threshold (0: every group opens a case)."""
    if threshold <= 0 or not all(_carries_money(f) for f in group):
        return False
    values = [f.leakage_reporting for f in group]
    return all(v is not None for v in values) and sum(values, Decimal(0)) < threshold


def _file_below(con: sqlite3.Connection, finding: Finding, key: str, amount: Decimal, at: str) -> None:
    reporting = None if finding.leakage_reporting is None else _text(Decimal(finding.leakage_reporting))
    con.execute(
        """insert into findings_below_materiality (finding_id, group_key, control_id, finding_type, account_id,
               billing_period, currency, direction, leakage_amount, leakage_reporting, filed_at, last_seen_at, present)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
           on conflict (finding_id) do update set leakage_amount = excluded.leakage_amount,
               leakage_reporting = excluded.leakage_reporting, last_seen_at = excluded.last_seen_at, present = 1""",
        [finding.finding_id, key, finding.control_id, finding.finding_type, finding.account_id,
         finding.billing_period.isoformat(), finding.currency, finding.direction, _text(amount), reporting, at, at],
    )  # fmt: skip


def _add_type(con: sqlite3.Connection, case_id: str, finding_type: str) -> None:
    """A case names every finding type of its findings (sorted); its title follows."""
    control, types, account, period = con.execute(
        "select control_id, finding_type, account_id, billing_period from cases where case_id = ?", [case_id]
    ).fetchone()
    known = set(types.split("|"))
    if finding_type in known:
        return
    types = "|".join(sorted(known | {finding_type}))
    con.execute(
        "update cases set finding_type = ?, title = ? where case_id = ?",
        [types, _title(control, types, account, date.fromisoformat(period)), case_id],
    )


def _new_case(con: sqlite3.Connection, finding: Finding, key: str, at: str) -> str:
    number = con.execute("select coalesce(max(cast(substr(case_id, 6) as integer)), 0) + 1 from cases").fetchone()
    case_id = f"CASE-{number[0]:06d}"
    con.execute(
        "insert into cases (case_id, group_key, title, control_id, finding_type, account_id, billing_period, "
        "currency, status, owner, leakage_amount, recovered_amount, created_at, updated_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, 'open', null, '0', null, ?, ?)",
        [
            case_id,
            key,
            _title(finding.control_id, finding.finding_type, finding.account_id, finding.billing_period),
            finding.control_id,
            finding.finding_type,
            finding.account_id,
            finding.billing_period.isoformat(),
            finding.currency,
            at,
            at,
        ],
    )
    _event(con, case_id, at, SYNC_ACTOR, "created", to_status="open", note=f"control {finding.control_id}")
    return case_id


def _refresh_leakage(con: sqlite3.Connection, case_id: str, at: str, present_before: int, new: bool) -> None:
    """The case's leakage is the sum of its present findings, added as Decimal (SQL sum() would be float)."""
    amounts = [
        Decimal(text)
        for (text,) in con.execute(
            "select leakage_amount from case_findings where case_id = ? and present = 1", [case_id]
        )
    ]
    leakage = sum(amounts, Decimal(0))
    previous = Decimal(con.execute("select leakage_amount from cases where case_id = ?", [case_id]).fetchone()[0])
    con.execute("update cases set leakage_amount = ?, updated_at = ? where case_id = ?", [_text(leakage), at, case_id])
    if new:
        return  # its created and finding_attached events say it all
    if leakage != previous:
        _event(con, case_id, at, SYNC_ACTOR, "leakage_changed", note=f"was {_text(previous)}", amount=leakage)
    if present_before and not amounts:
        _event(con, case_id, at, SYNC_ACTOR, "findings_gone", note="the last run produced none of its findings")
    elif amounts and not present_before:
        _event(con, case_id, at, SYNC_ACTOR, "findings_back", note=f"{len(amounts)} of its findings present again")


# --- analysts' operations ------------------------------------------------------------------------------


def assign(store_path: Path, case_id: str, owner: str, actor: str, now: datetime | None = None) -> Case:
    """Give the case to `owner`."""
    actor = _who(actor)
    if not owner or not owner.strip():
        raise CaseError("assign needs an owner")
    at = _stamp(now)
    with _transaction(store_path, write=True) as con:
        case = _load(con, case_id)
        con.execute("update cases set owner = ?, updated_at = ? where case_id = ?", [owner.strip(), at, case_id])
        _event(con, case_id, at, actor, "assigned", note=f"{case.owner or '-'} -> {owner.strip()}")
        return _load(con, case_id)


def move(
    store_path: Path,
    case_id: str,
    to_status: str,
    actor: str,
    note: str | None = None,
    recovered_amount: Decimal | int | str | None = None,
    now: datetime | None = None,
    approval_above: Decimal | int | str | None = None,
) -> Case:
    """Move the case along the workflow (TRANSITIONS). Entering recovered (refunded) needs an effective
    amount above zero in the case's ledger; an amount given here is recorded first (record_recovery's
    rules: at most the case's value, and approved by a second person above the approval threshold)."""
    actor = _who(actor)
    if to_status not in TRANSITIONS:
        raise CaseError(f"unknown status {to_status!r}; the statuses are {', '.join(STATUSES)}")
    amount = None if recovered_amount is None else _recovered(recovered_amount)
    threshold = None if amount is None else _approval_above(approval_above)
    at = _stamp(now)
    with _transaction(store_path, write=True) as con:
        case = _load(con, case_id)
        allowed = TRANSITIONS[case.status]
        if to_status not in allowed:
            following = f"allowed next: {', '.join(allowed)}" if allowed else f"{case.status} is terminal"
            raise CaseError(f"{case_id} is {case.status} and cannot move to {to_status} ({following})")
        if to_status in REFUND_ONLY and case.kind != "refund":
            raise CaseError(
                f"{case_id} is about revenue, not a refund owed to the customer: it is worked to "
                f"recovery_pending and recovered, not {to_status}"
            )
        if to_status in REVENUE_ONLY and case.kind == "refund":
            raise CaseError(
                f"{case_id} is a refund owed to the customer (over-billing), never revenue recovered: "
                f"it is worked to refund_due and refunded, not {to_status}"
            )
        if amount:
            _, pending = _record(con, case, amount, actor, _clean(note), False, threshold, at, event=False)
            if pending and to_status in ("recovered", "refunded"):
                raise CaseError(
                    f"{case_id}: {_shown(amount, case.currency)} is above the approval threshold "
                    f"{_shown(threshold, case.currency)}: record it, have a second person approve it, then move "
                    f"the case to {to_status}"
                )
        total = _effective(con, case_id)
        if to_status in ("recovered", "refunded") and not (total and total > 0):
            word = "recovered" if to_status == "recovered" else "refunded"
            raise CaseError(f"{case_id} cannot be {to_status} without a {word} amount above zero")
        entering = to_status in ("recovered", "refunded")
        con.execute(
            "update cases set status = ?, recovered_amount = ?, updated_at = ?, "
            "recovered_at = case when ? then ? else recovered_at end, "
            "closed_at = case when ? in ('closed', 'cancelled') then ? else closed_at end "
            "where case_id = ?",
            [to_status, None if total is None else _text(total), at, entering, at, to_status, at, case_id],
        )
        _event(con, case_id, at, actor, "status_changed", case.status, to_status, _clean(note), amount)
        return _load(con, case_id)


def add_note(store_path: Path, case_id: str, note: str, actor: str, now: datetime | None = None) -> Case:
    """Add a note to the case's history. Notes are allowed on closed and cancelled cases too."""
    actor = _who(actor)
    if not _clean(note):
        raise CaseError("a note needs some text")
    at = _stamp(now)
    with _transaction(store_path, write=True) as con:
        _load(con, case_id)
        con.execute("update cases set updated_at = ? where case_id = ?", [at, case_id])
        _event(con, case_id, at, actor, "note", note=_clean(note))
        return _load(con, case_id)


def next_statuses(case: Case) -> tuple[str, ...]:
    """The statuses this case may move to: TRANSITIONS, less the other kind's (refund or revenue) statuses."""
    other = REVENUE_ONLY if case.kind == "refund" else REFUND_ONLY
    return tuple(status for status in TRANSITIONS[case.status] if status not in other)


# --- the recovery ledger -------------------------------------------------------------------------------
# A case's recovered (for a refund case: refunded) amount is the sum of its effective ledger entries; the
# cases table keeps that sum for readers. Nothing is changed in place: a wrong amount is corrected by a
# reversal of its entry and a new entry. An entry above the case's value (an override), or above the approval
# threshold (ra_recovery_approval_above, in the case's currency), is pending until a person other than the
# one who entered it approves it with a reason.


def record_recovery(
    store_path: Path,
    case_id: str,
    amount: Decimal | int | str,
    actor: str,
    reason: str | None = None,
    override: bool = False,
    approval_above: Decimal | int | str | None = None,
    now: datetime | None = None,
) -> RecoveryEntry:
    """Record an amount recovered (refunded) on the case, added to what its ledger has. The case's recorded
    and pending amounts together stay within its value unless `override` (which then needs a reason and a
    second person's approval)."""
    actor = _who(actor)
    amount = _recovered(amount)
    if amount == 0:
        raise CaseError("a recovered amount must be above zero (to take an entry back, correct it)")
    if override and not _clean(reason):
        raise CaseError("an override above the case's value needs a reason")
    threshold = _approval_above(approval_above)
    at = _stamp(now)
    with _transaction(store_path, write=True) as con:
        case = _load(con, case_id)
        if case.status in TERMINAL:
            raise CaseError(f"{case_id} is {case.status}: record no new amount (a wrong one is corrected)")
        entry_id, _ = _record(con, case, amount, actor, _clean(reason), override, threshold, at)
        _store_total(con, case, at)
        return _entry(con, entry_id)


def correct_recovery(
    store_path: Path,
    case_id: str,
    entry_id: int,
    amount: Decimal | int | str,
    actor: str,
    reason: str,
    override: bool = False,
    approval_above: Decimal | int | str | None = None,
    now: datetime | None = None,
) -> tuple[RecoveryEntry, ...]:
    """Correct an effective entry: a reversal that takes it back and, unless `amount` is 0, a new entry with
    the right amount (record_recovery's rules). Allowed in every status but cancelled: a recovered or closed
    case is corrected this way, with who and why in its history. Returns the reversal and the new entry."""
    actor = _who(actor)
    amount = _recovered(amount)
    if not _clean(reason):
        raise CaseError("a correction needs a reason: why the amount was wrong")
    threshold = _approval_above(approval_above)
    at = _stamp(now)
    with _transaction(store_path, write=True) as con:
        case = _load(con, case_id)
        if case.status == "cancelled":
            raise CaseError(f"{case_id} is cancelled: it has nothing to correct")
        entries = {e.entry_id: e for e in _entries(con, case_id)}
        wrong = entries.get(entry_id)
        if wrong is None:
            raise CaseError(
                f"{case_id} has no ledger entry {entry_id} (its entries: "
                f"{', '.join(str(e) for e in entries) or 'none'})"
            )
        if wrong.state != "effective" or wrong.action == "reversal":
            what = "a reversal" if wrong.action == "reversal" else wrong.state
            raise CaseError(f"{case_id} entry {entry_id} is {what}: only an effective amount can be corrected")
        total = _effective(con, case_id) or Decimal(0)
        if case.status in ("recovered", "refunded") and total - wrong.amount + amount <= 0:
            raise CaseError(f"{case_id} is {case.status}: its amount must stay above zero")
        cur = case.currency or ""
        reversal = con.execute(
            "insert into case_recovery_entries (case_id, action, amount, reverses, override, needs_approval, "
            "entered_by, entered_at, reason) values (?, 'reversal', ?, ?, 0, 0, ?, ?, ?)",
            [case_id, _text(-wrong.amount), entry_id, actor, at, _clean(reason)],
        ).lastrowid
        _event(
            con,
            case_id,
            at,
            actor,
            "recovery_reversed",
            amount=-wrong.amount,
            note=f"entry {reversal} reverses entry {entry_id} ({_shown(wrong.amount, cur)}): {_clean(reason)}",
        )
        made = [reversal]
        if amount:
            entry, _ = _record(con, case, amount, actor, _clean(reason), override, threshold, at)
            made.append(entry)
        _store_total(con, case, at)
        return tuple(_entry(con, e) for e in made)


def decide_recovery(
    store_path: Path,
    case_id: str,
    entry_id: int,
    actor: str,
    reason: str,
    approve: bool = True,
    now: datetime | None = None,
) -> RecoveryEntry:
    """Approve (or reject) a pending entry: a person other than the one who entered it, with a reason."""
    actor = _who(actor)
    if not _clean(reason):
        raise CaseError(f"{'an approval' if approve else 'a rejection'} needs a reason")
    at = _stamp(now)
    with _transaction(store_path, write=True) as con:
        case = _load(con, case_id)
        entry = next((e for e in _entries(con, case_id) if e.entry_id == entry_id), None)
        if entry is None:
            raise CaseError(f"{case_id} has no ledger entry {entry_id}")
        if entry.state != "pending":
            raise CaseError(f"{case_id} entry {entry_id} is {entry.state}, not pending: nothing to decide")
        if entry.entered_by == actor:
            raise CaseError(
                f"{case_id} entry {entry_id} was entered by {actor}: a second person must "
                f"{'approve' if approve else 'reject'} it"
            )
        decision = "approved" if approve else "rejected"
        con.execute(
            "insert into case_recovery_decisions (entry_id, decision, decided_by, decided_at, reason) "
            "values (?, ?, ?, ?, ?)",
            [entry_id, decision, actor, at, _clean(reason)],
        )
        _event(
            con,
            case_id,
            at,
            actor,
            f"recovery_{decision}",
            amount=entry.amount,
            note=f"entry {entry_id} entered by {entry.entered_by}: {_clean(reason)}",
        )
        _store_total(con, case, at)
        return _entry(con, entry_id)


def set_recovered(
    store_path: Path,
    case_id: str,
    amount: Decimal | int | str,
    actor: str,
    now: datetime | None = None,
    approval_above: Decimal | int | str | None = None,
) -> Case:
    """Record the amount the case has recovered in all: the difference from what its ledger has is recorded
    (more) or the entries are corrected to it (less, from the newest, with the reason 'set to a lower total')."""
    target = _recovered(amount)
    with _transaction(store_path, write=False) as con:
        case = _load(con, case_id)
        entries = _entries(con, case_id)
    total = sum((e.amount for e in entries if e.state in ("effective", "reversed")), Decimal(0))
    if target > total:
        record_recovery(store_path, case_id, target - total, actor, approval_above=approval_above, now=now)
    elif target < total:
        if case.status in ("recovered", "refunded") and target <= 0:
            raise CaseError(f"{case_id} is {case.status}: its amount must stay above zero")
        left = total - target
        for entry in sorted(
            (e for e in entries if e.state == "effective" and e.action != "reversal"), key=lambda e: -e.entry_id
        ):
            if left <= 0:
                break
            taken = min(left, entry.amount)
            correct_recovery(
                store_path,
                case_id,
                entry.entry_id,
                entry.amount - taken,
                actor,
                f"set to a lower total ({_text(target)})",
                approval_above=approval_above,
                now=now,
            )
            left -= taken
    return get_case(store_path, case_id).case


def _approval_above(value: Decimal | int | str | None) -> Decimal:
    if value is None:
        return ra_settings()["ra_recovery_approval_above"]
    threshold = _money(value, "the approval threshold")
    if threshold < 0:
        raise CaseError(f"the approval threshold cannot be negative ({threshold})")
    return threshold


def _record(
    con: sqlite3.Connection,
    case: Case,
    amount: Decimal,
    actor: str,
    reason: str | None,
    override: bool,
    threshold: Decimal,
    at: str,
    event: bool = True,
) -> tuple[int, bool]:
    """Append one recorded entry (bounded by the case's value unless an override); returns its id and whether
    it awaits approval. Without `event` an effective entry writes no event of its own (a move's event carries
    its amount); a pending one always does."""
    cur = case.currency or ""
    # effective, pending, and reversed entries with their reversals (which net to zero)
    held = sum((e.amount for e in _entries(con, case.case_id) if e.state != "rejected"), Decimal(0))
    if held + amount > case.value and not override:
        already = f" ({_shown(held, cur)} already recorded or pending)" if held else ""
        raise CaseError(
            f"{case.case_id}: {_shown(amount, cur)}{already} is more than the case's value {_shown(case.value, cur)} "
            f"(its leakage): a larger amount needs an override with a reason, approved by a second person"
        )
    pending = override or amount > threshold
    entry_id = con.execute(
        "insert into case_recovery_entries (case_id, action, amount, override, needs_approval, entered_by, "
        "entered_at, reason) values (?, 'recorded', ?, ?, ?, ?, ?, ?)",
        [case.case_id, _text(amount), int(override), int(pending), actor, at, reason],
    ).lastrowid
    why = []
    if override:
        why.append(f"override above the case's value {_shown(case.value, cur)}")
    if amount > threshold:
        why.append(f"above the approval threshold {_shown(threshold, cur)}")
    state = f"pending approval ({'; '.join(why)})" if pending else "effective"
    if not (event or pending):
        return entry_id, pending
    _event(
        con,
        case.case_id,
        at,
        actor,
        "recovery_recorded",
        amount=amount,
        note=f"entry {entry_id}, {state}" + (f": {reason}" if reason else ""),
    )
    return entry_id, pending


def _store_total(con: sqlite3.Connection, case: Case, at: str) -> None:
    total = _effective(con, case.case_id)
    con.execute(
        "update cases set recovered_amount = ?, updated_at = ? where case_id = ?",
        [None if total is None else _text(total), at, case.case_id],
    )


def _effective(con: sqlite3.Connection, case_id: str) -> Decimal | None:
    """The sum of the case's effective entries; None when its ledger has none."""
    amounts = [e.amount for e in _entries(con, case_id) if e.state in ("effective", "reversed")]
    return sum(amounts, Decimal(0)) if amounts else None


_ENTRY_SELECT = (
    "select e.entry_id, e.action, e.amount, e.reverses, e.override, e.entered_by, e.entered_at, e.reason, "
    "e.needs_approval, d.decision, d.decided_by, d.decided_at, d.reason, "
    "exists (select 1 from case_recovery_entries r where r.reverses = e.entry_id) "
    "from case_recovery_entries e left join case_recovery_decisions d on d.entry_id = e.entry_id "
)


def _entry_of(row: tuple) -> RecoveryEntry:
    (
        entry_id,
        action,
        amount,
        reverses,
        override,
        by,
        at,
        reason,
        needs,
        decision,
        decided_by,
        decided_at,
        decision_reason,
        reversed_,
    ) = row
    if decision == "rejected":
        state = "rejected"
    elif needs and decision is None:
        state = "pending"
    else:
        state = "reversed" if reversed_ else "effective"
    return RecoveryEntry(
        entry_id,
        action,
        Decimal(amount),
        reverses,
        bool(override),
        by,
        _time(at),
        reason,
        state,
        decided_by,
        _time(decided_at),
        decision_reason,
    )


def _entries(con: sqlite3.Connection, case_id: str) -> list[RecoveryEntry]:
    rows = con.execute(_ENTRY_SELECT + "where e.case_id = ? order by e.entry_id", [case_id]).fetchall()
    return [_entry_of(row) for row in rows]


def _entry(con: sqlite3.Connection, entry_id: int) -> RecoveryEntry:
    return _entry_of(con.execute(_ENTRY_SELECT + "where e.entry_id = ?", [entry_id]).fetchone())


def _shown(amount: Decimal | None, currency: str) -> str:
    """An amount in a message: the currency's decimals, thousands separated."""
    from orchestration.assurance.kpis import money_text

    return money_text(amount, currency, exact=True)


def _recovered(value: object) -> Decimal:
    amount = _money(value, "the recovered amount")
    if amount < 0:
        raise CaseError(f"the recovered amount cannot be negative ({amount})")
    return amount


def _clean(note: str | None) -> str | None:
    return note.strip() if note and note.strip() else None


# --- reads ---------------------------------------------------------------------------------------------


def list_cases(
    store_path: Path,
    status: str | None = None,
    owner: str | None = None,
    period: date | None = None,
    account: str | None = None,
    control: str | None = None,
) -> list[Case]:
    """Cases in id order, filtered by status, owner, billing month (any day of it), account and control."""
    if status is not None and status not in TRANSITIONS:
        raise CaseError(f"unknown status {status!r}; the statuses are {', '.join(STATUSES)}")
    where, params = [], []
    for clause, value in (
        ("status = ?", status),
        ("owner = ?", owner),
        ("substr(billing_period, 1, 7) = ?", period and f"{period:%Y-%m}"),
        ("account_id = ?", account),
        ("control_id = ?", control),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    sql = f"select {CASE_COLUMNS} from cases {'where ' + ' and '.join(where) if where else ''} order by case_id"
    with _transaction(store_path, write=False) as con:
        return [_case(row) for row in con.execute(sql, params)]


def get_case(store_path: Path, case_id: str) -> CaseDetail:
    """The case with its findings (present first) and its full history, read in one transaction."""
    with _transaction(store_path, write=False) as con:
        case = _load(con, case_id)
        findings = tuple(
            CaseFinding(finding_id, _time(attached), Decimal(amount), _time(seen), bool(present), kind, direction,
                        area, _decimal(expected), _decimal(billed), detail)
            for finding_id, attached, amount, seen, present, kind, direction, area, expected, billed, detail
            in con.execute(
                "select finding_id, attached_at, leakage_amount, last_seen_at, present, finding_type, direction, "
                "leakage_area, expected_amount, billed_amount, detail from case_findings "
                "where case_id = ? order by present desc, finding_id",
                [case_id],
            )
        )  # fmt: skip
        events = tuple(
            CaseEvent(event_id, _time(at), actor, action, before, after, note, _decimal(amount))
            for event_id, at, actor, action, before, after, note, amount in con.execute(
                "select event_id, at, actor, action, from_status, to_status, note, amount from case_events "
                "where case_id = ? order by event_id",
                [case_id],
            )
        )
        entries = tuple(_entries(con, case_id))
    return CaseDetail(case, findings, events, entries)


def pending_entries(store_path: Path) -> list[tuple[str, RecoveryEntry]]:
    """Every ledger entry waiting for a second person's decision, with its case, oldest first."""
    with _transaction(store_path, write=False) as con:
        rows = con.execute(
            "select e.case_id, "
            + _ENTRY_SELECT[len("select ") :]
            + "where e.needs_approval = 1 and d.entry_id is null "
            "order by e.entry_id"
        ).fetchall()
    return [(row[0], _entry_of(row[1:])) for row in rows]


def case_of_finding(store_path: Path, finding_id: str) -> str | None:
    """The case a finding belongs to, or None before a sync filed it."""
    with _transaction(store_path, write=False) as con:
        row = con.execute("select case_id from case_findings where finding_id = ?", [finding_id]).fetchone()
    return row[0] if row else None


def below_materiality(
    store_path: Path, period: date | None = None, present_only: bool = True
) -> list[BelowMateriality]:
    """The findings filed without a case (below materiality), largest first, for one billing month or all."""
    month = period and f"{period:%Y-%m}"
    with _transaction(store_path, write=False) as con:
        rows = con.execute(
            "select finding_id, control_id, finding_type, account_id, billing_period, currency, direction, "
            "leakage_amount, leakage_reporting, filed_at, last_seen_at, present from findings_below_materiality "
            "where (? is null or substr(billing_period, 1, 7) = ?) and (present = 1 or not ?)",
            [month, month, present_only],
        ).fetchall()
    found = [
        BelowMateriality(r[0], r[1], r[2], r[3], date.fromisoformat(r[4]), r[5], r[6], Decimal(r[7]), _decimal(r[8]),
                         _time(r[9]), _time(r[10]), bool(r[11]))
        for r in rows
    ]  # fmt: skip
    return sorted(found, key=lambda b: (-(b.leakage_reporting or b.leakage_amount), b.finding_id))
