"""Revenue-assurance cases (orchestration/assurance/cases.py, docs/assurance.md): the workflow, sync of the
controls' findings into cases, analysts' edits surviving pipeline runs, exact money, concurrent writers and
the `tollhouse case` commands. Real SQLite files in tmp_path, no mocks.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.assurance import cases
from orchestration.assurance.cases import STATUSES, TRANSITIONS, CaseError, Finding
from orchestration.assurance.kpis import case_kpis
from orchestration.cli import main
from orchestration.settings import Paths

SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)
T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def finding(
    finding_id: str,
    amount: str = "10.000000",
    account: str | None = "ACC-0001",
    control: str = "RA-07",
    kind: str = "unbilled_usage",
    period: date = SEP,
    currency: str = "EUR",
) -> Finding:
    return Finding(
        finding_id=finding_id,
        control_id=control,
        leakage_area="usage",
        finding_type=kind,
        account_id=account,
        billing_period=period,
        currency=currency,
        expected_amount=Decimal(amount),
        billed_amount=Decimal(0),
        leakage_amount=Decimal(amount),
        direction="under_billing",
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "cases" / "cases.sqlite"


def one_case(store: Path, *findings: Finding) -> str:
    cases.sync_findings(store, findings or [finding("F1")], now=T0)
    return cases.list_cases(store)[-1].case_id


def refund_finding(finding_id: str = "F1", **kwargs) -> Finding:
    """An over-billing finding: its case is a refund owed to the customer."""
    return Finding(**{**finding(finding_id, **kwargs).__dict__, "direction": "over_billing"})


def for_statuses(*statuses: str) -> Finding:
    """A finding whose case can reach these statuses: a refund's for refund_due and refunded."""
    return refund_finding() if set(statuses) & set(cases.REFUND_ONLY) else finding("F1")


def path_to(status: str) -> list[str]:
    """The shortest walk from open to `status` along TRANSITIONS, by the statuses of one kind of case."""
    other = cases.REVENUE_ONLY if status in cases.REFUND_ONLY else cases.REFUND_ONLY
    paths, queue = {"open": []}, deque(["open"])
    while queue:
        current = queue.popleft()
        for following in TRANSITIONS[current]:
            if following not in paths and following not in other:
                paths[following] = [*paths[current], following]
                queue.append(following)
    return paths[status]


def walk(store: Path, case_id: str, status: str, now: datetime = T0) -> None:
    for step in path_to(status):
        amount = "1.00" if step in ("recovered", "refunded") else None
        cases.move(store, case_id, step, "alice", recovered_amount=amount, now=now)


def dump(store: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(store) as con:
        return {
            table: con.execute(f"select * from {table} order by 1").fetchall()
            for table in ("schema_version", "cases", "case_findings", "case_events")
        }


# --- the store -----------------------------------------------------------------------------------------


def test_the_store_is_created_once_beside_the_warehouse(tmp_path, store):
    assert Paths(tmp_path).cases == tmp_path / "cases" / "cases.sqlite"
    for _ in range(2):  # the second open finds the schema and changes nothing
        cases.connect(store).close()
    con = cases.connect(store)
    try:
        assert con.execute("select version from schema_version").fetchall() == [(cases.SCHEMA_VERSION,)]
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert con.execute("pragma foreign_keys").fetchone()[0] == 1
        tables = {name for (name,) in con.execute("select name from sqlite_master where type = 'table'")}
        assert {"schema_version", "cases", "case_findings", "case_events"} <= tables
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            con.execute(
                "insert into case_findings (finding_id, case_id, attached_at, leakage_amount, last_seen_at, present) "
                "values ('F9', 'CASE-999999', 'x', '1', 'x', 1)"
            )
    finally:
        con.close()


def test_a_store_from_a_newer_tollhouse_is_refused(store):
    one_case(store)
    with sqlite3.connect(store) as con:
        con.execute("update schema_version set version = ?", [cases.SCHEMA_VERSION + 1])
    with pytest.raises(CaseError, match=f"schema version {cases.SCHEMA_VERSION + 1}, newer .* upgrade tollhouse"):
        cases.list_cases(store)


def test_history_is_append_only(store):
    case_id = one_case(store)
    with sqlite3.connect(store) as con:
        for statement in ("delete from case_events", "update case_events set actor = 'someone else'"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(statement)
    assert [e.action for e in cases.get_case(store, case_id).events] == ["created", "finding_attached"]


# --- the workflow --------------------------------------------------------------------------------------


# The designed workflow (docs/assurance.md), written out here: what `cases.move` accepts is checked against
# it, not against the module's own table.
DESIGNED = {
    ("open", "investigating"), ("open", "cancelled"),
    ("investigating", "confirmed"), ("investigating", "cancelled"),
    ("confirmed", "recovery_pending"), ("confirmed", "not_recoverable"), ("confirmed", "cancelled"),
    ("recovery_pending", "recovered"), ("recovery_pending", "not_recoverable"), ("recovery_pending", "cancelled"),
    ("recovered", "closed"),
    ("not_recoverable", "closed"),
}  # fmt: skip
# a refund owed to the customer (an over-billing case) takes refund_due and refunded instead
DESIGNED_REFUND = {(a, b) for a, b in DESIGNED if "recovery_pending" not in (a, b) and "recovered" not in (a, b)} | {
    ("confirmed", "refund_due"),
    ("refund_due", "refunded"),
    ("refund_due", "cancelled"),
    ("refunded", "closed"),
}
# a hand-written way to reach each status from open
REACH = {
    "open": [],
    "investigating": ["investigating"],
    "confirmed": ["investigating", "confirmed"],
    "recovery_pending": ["investigating", "confirmed", "recovery_pending"],
    "recovered": ["investigating", "confirmed", "recovery_pending", "recovered"],
    "not_recoverable": ["investigating", "confirmed", "not_recoverable"],
    "closed": ["investigating", "confirmed", "not_recoverable", "closed"],
    "cancelled": ["cancelled"],
}


REACH_REFUND = {status: steps for status, steps in REACH.items() if "recovery_pending" not in steps} | {
    "refund_due": ["investigating", "confirmed", "refund_due"],
    "refunded": ["investigating", "confirmed", "refund_due", "refunded"],
}


KINDS = [("under_billing", REACH, DESIGNED), ("over_billing", REACH_REFUND, DESIGNED_REFUND)]


@pytest.mark.parametrize(("direction", "reach", "designed"), KINDS)
def test_move_accepts_exactly_the_designed_workflow(tmp_path, direction, reach, designed):
    """From each status, every move to each status is tried on a case of its own: the moves that succeed are
    the designed ones (of a revenue case; of a refund case), and a case that cannot move on is in closed or
    cancelled."""
    store = tmp_path / "cases.sqlite"
    accepted, stuck = set(), set()
    amount = {"recovered": "1.00", "refunded": "1.00"}
    for start, steps in reach.items():
        moved = False
        for to in STATUSES:
            made = finding(f"F-{start}-{to}", account=f"ACC-{start}-{to}")
            case_id = one_case(store, Finding(**{**made.__dict__, "direction": direction}))
            for step in steps:
                cases.move(store, case_id, step, "alice", recovered_amount=amount.get(step))
            try:
                cases.move(store, case_id, to, "bob", recovered_amount=amount.get(to))
            except CaseError:
                assert cases.get_case(store, case_id).case.status == start
                continue
            assert cases.get_case(store, case_id).case.status == to
            accepted.add((start, to))
            moved = True
        if not moved:
            stuck.add(start)
    assert accepted == designed
    assert stuck == {"closed", "cancelled"} == set(cases.TERMINAL)


@pytest.mark.parametrize(("start", "to"), [(a, b) for a, following in TRANSITIONS.items() for b in following])
def test_every_allowed_transition_walks(store, start, to):
    case_id = one_case(store, for_statuses(start, to))
    walk(store, case_id, start)
    later = T0 + timedelta(days=2)
    amount = "1.00" if to in ("recovered", "refunded") else None
    case = cases.move(store, case_id, to, "bob", note="why", recovered_amount=amount, now=later)
    assert case.status == to
    assert case.updated_at == later
    assert case.closed_at == (later if to in ("closed", "cancelled") else None)
    assert (case.recovered_at == later) is (to in ("recovered", "refunded"))
    last = cases.get_case(store, case_id).events[-1]
    assert (last.actor, last.action, last.from_status, last.to_status, last.note) == (
        "bob",
        "status_changed",
        start,
        to,
        "why",
    )


REFUSED = [(a, b) for a in STATUSES for b in STATUSES if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("start", "to"), REFUSED)
def test_a_refused_transition_names_the_case_both_statuses_and_what_is_allowed(store, start, to):
    case_id = one_case(store, for_statuses(start))
    walk(store, case_id, start)
    before = cases.get_case(store, case_id)
    allowed = TRANSITIONS[start]
    following = f"allowed next: {', '.join(allowed)}" if allowed else f"{start} is terminal"
    with pytest.raises(CaseError) as refused:
        cases.move(store, case_id, to, "bob", recovered_amount="5")
    assert str(refused.value) == f"{case_id} is {start} and cannot move to {to} ({following})"
    assert cases.get_case(store, case_id) == before  # nothing written, not even the amount


def test_an_unknown_status_is_refused_with_the_statuses(store):
    case_id = one_case(store)
    with pytest.raises(CaseError, match="unknown status 'done'; the statuses are open, investigating"):
        cases.move(store, case_id, "done", "bob")
    with pytest.raises(CaseError, match="unknown status 'done'"):
        cases.list_cases(store, status="done")


def test_recovered_needs_a_recovered_amount_above_zero(store):
    case_id = one_case(store, finding("F1", "400"))
    walk(store, case_id, "recovery_pending")
    with pytest.raises(CaseError, match=f"{case_id} cannot be recovered without a recovered amount above zero"):
        cases.move(store, case_id, "recovered", "bob")
    with pytest.raises(CaseError, match="above zero"):
        cases.move(store, case_id, "recovered", "bob", recovered_amount="0")
    with pytest.raises(CaseError, match="cannot be negative"):
        cases.move(store, case_id, "recovered", "bob", recovered_amount="-1")
    with pytest.raises(CaseError, match="not float"):
        cases.move(store, case_id, "recovered", "bob", recovered_amount=12.5)
    with pytest.raises(CaseError, match="not a number"):
        cases.set_recovered(store, case_id, "12,50", "bob")
    assert cases.get_case(store, case_id).case.status == "recovery_pending"

    cases.set_recovered(store, case_id, "250.50", "bob")  # set before the move, the move needs none
    later = T0 + timedelta(days=3)
    case = cases.move(store, case_id, "recovered", "bob", now=later)
    assert (case.status, case.recovered_amount, case.recovered_at, case.closed_at) == (
        "recovered",
        Decimal("250.50"),
        later,
        None,
    )
    with pytest.raises(CaseError, match="must stay above zero"):
        cases.set_recovered(store, case_id, "0", "bob")
    case = cases.move(store, case_id, "closed", "bob", now=later + timedelta(days=1))
    assert (case.recovered_at, case.closed_at) == (later, later + timedelta(days=1))
    with pytest.raises(CaseError, match="is closed: record no new amount"):
        cases.set_recovered(store, case_id, "300", "bob")


def test_a_recovered_amount_given_with_the_move_is_in_its_event(store):
    case_id = one_case(store)
    walk(store, case_id, "recovery_pending")
    case = cases.move(store, case_id, "recovered", "bob", note="credit note 42", recovered_amount=Decimal("7.25"))
    assert case.recovered_amount == Decimal("7.25")
    last = cases.get_case(store, case_id).events[-1]
    assert (last.action, last.amount, last.note) == ("status_changed", Decimal("7.25"), "credit note 42")


def test_unknown_cases_and_missing_actors_are_refused(store):
    case_id = one_case(store)
    operations = {
        "assign": lambda case, actor: cases.assign(store, case, "alice", actor),
        "move": lambda case, actor: cases.move(store, case, "investigating", actor),
        "note": lambda case, actor: cases.add_note(store, case, "a note", actor),
        "recovered": lambda case, actor: cases.set_recovered(store, case, "1", actor),
    }
    for name, operation in operations.items():
        with pytest.raises(CaseError, match="no case 'CASE-999999'"):
            operation("CASE-999999", "bob")
        for actor in ("", "   "):
            with pytest.raises(CaseError, match="needs an actor"):
                operation(case_id, actor)
        assert len(cases.get_case(store, case_id).events) == 2, name
    with pytest.raises(CaseError, match="no case"):
        cases.get_case(store, "CASE-999999")
    with pytest.raises(CaseError, match="needs some text"):
        cases.add_note(store, case_id, "  ", "bob")


# --- sync ----------------------------------------------------------------------------------------------


def test_sync_groups_findings_by_control_account_and_period(store):
    result = cases.sync_findings(
        store,
        [
            finding("F1", "1.50"),
            finding("F2", "2.50"),  # same group as F1
            finding("F3", "3", account="ACC-0002"),
            finding("F4", "4.5", kind="zero_rated_usage"),  # another type of the same control: F1's case too
            finding("F5", "5", account=None),  # switch level
            finding("F6", "6", period=OCT),
            finding("F7", "7", control="RA-08"),
        ],
        now=T0,
    )
    assert result == cases.SyncResult(new_cases=5, findings_attached=7, findings_gone=0)
    found = cases.list_cases(store)
    assert [c.case_id for c in found] == [f"CASE-{n:06d}" for n in range(1, 6)]
    assert {c.title for c in found} == {
        "RA-07 unbilled_usage, zero_rated_usage: ACC-0001 2026-09",
        "RA-07 unbilled_usage: ACC-0002 2026-09",
        "RA-07 unbilled_usage: switch level 2026-09",
        "RA-07 unbilled_usage: ACC-0001 2026-10",
        "RA-08 unbilled_usage: ACC-0001 2026-09",
    }
    assert all((c.status, c.owner, c.recovered_amount, c.created_at) == ("open", None, None, T0) for c in found)
    (rolled,) = [c for c in found if c.leakage_amount == Decimal("8.50")]  # 1.50 + 2.50 + 4.5
    detail = cases.get_case(store, rolled.case_id)
    assert (rolled.control_id, rolled.account_id, rolled.billing_period) == ("RA-07", "ACC-0001", SEP)
    assert rolled.finding_type == "unbilled_usage|zero_rated_usage"
    assert [f.finding_id for f in detail.findings] == ["F1", "F2", "F4"]
    assert [(e.actor, e.action, e.note) for e in detail.events] == [
        ("pipeline", "created", "control RA-07"),
        ("pipeline", "finding_attached", "F1"),
        ("pipeline", "finding_attached", "F2"),
        ("pipeline", "finding_attached", "F4"),
    ]


def test_sync_keeps_currencies_apart_and_refuses_bad_findings(store):
    cases.sync_findings(store, [finding("F1", account=None), finding("F2", account=None, currency="USD")], now=T0)
    assert sorted(c.currency for c in cases.list_cases(store)) == ["EUR", "USD"]
    for bad, message in (
        ([finding("F3"), finding("F3")], "'F3' was produced twice"),
        ([finding("F4", "-1")], "negative leakage amount"),
        ([Finding(**{**finding("F5").__dict__, "leakage_amount": 0.1})], "not float"),
    ):
        with pytest.raises(CaseError, match=message):
            cases.sync_findings(store, bad)
    assert len(cases.list_cases(store)) == 2  # a refused sync writes nothing


def test_sync_is_idempotent(store):
    findings = [finding("F1", "1"), finding("F2", "2"), finding("F3", "3", account="ACC-0002")]
    cases.sync_findings(store, findings, now=T0)
    first = dump(store)
    assert cases.sync_findings(store, findings, now=T0) == cases.SyncResult(0, 0, 0)
    assert dump(store) == first  # same findings, same instant: not one byte of data differs
    later = T0 + timedelta(days=1)
    assert cases.sync_findings(store, list(reversed(findings)), now=later) == cases.SyncResult(0, 0, 0)
    again = dump(store)
    assert again["cases"] == first["cases"]
    assert again["case_events"] == first["case_events"]
    # Only the findings' last_seen_at moves.
    unseen = [[row[:4] + row[5:] for row in run["case_findings"]] for run in (first, again)]
    assert unseen[0] == unseen[1]
    assert {row[4] for row in again["case_findings"]} == {later.isoformat()}
    rescaled = [finding("F1", "1.000000"), finding("F2", "2.0"), finding("F3", "3.00", account="ACC-0002")]
    cases.sync_findings(store, rescaled, now=later)
    assert dump(store) == again  # the same numbers at another scale are the same amounts


def test_sync_never_changes_analysts_edits(store):
    case_id = one_case(store, finding("F1", "100"), finding("F2", "50"))
    cases.assign(store, case_id, "alice", "lead")
    cases.move(store, case_id, "investigating", "alice", note="checking the CDRs")
    cases.add_note(store, case_id, "switch 3 lost a file", "alice")
    walk_to_pending = path_to("recovery_pending")[1:]
    for step in walk_to_pending:
        cases.move(store, case_id, step, "alice")
    cases.set_recovered(store, case_id, "40.00", "alice")
    edited = cases.get_case(store, case_id)

    for run, (first, second) in enumerate((("120", "50"), ("120", "30.5")), start=1):
        cases.sync_findings(store, [finding("F1", first), finding("F2", second)], now=T0 + timedelta(days=run))
    after = cases.get_case(store, case_id)
    assert (after.case.status, after.case.owner, after.case.recovered_amount) == (
        "recovery_pending",
        "alice",
        Decimal("40.00"),
    )
    assert after.case.leakage_amount == Decimal("150.5")
    assert after.events[: len(edited.events)] == edited.events  # history kept as it was
    assert [(e.action, e.amount, e.note) for e in after.events[len(edited.events) :]] == [
        ("leakage_changed", Decimal("170"), "was 150"),
        ("leakage_changed", Decimal("150.5"), "was 170"),
    ]
    notes = [e.note for e in after.events if e.action == "note"]
    assert notes == ["switch 3 lost a file"]
    cases.sync_findings(store, [finding("F1", "30.5"), finding("F2", "120")], now=T0 + timedelta(days=3))
    assert cases.get_case(store, case_id).events == after.events  # amounts swapped, same leakage: no news


def test_a_new_finding_joins_the_open_case_of_its_group_or_starts_one_after_close(store):
    case_id = one_case(store, finding("F1", "1"))
    cases.move(store, case_id, "investigating", "alice")
    result = cases.sync_findings(store, [finding("F1", "1"), finding("F2", "2")], now=T0)
    assert result == cases.SyncResult(new_cases=0, findings_attached=1, findings_gone=0)
    assert [f.finding_id for f in cases.get_case(store, case_id).findings] == ["F1", "F2"]
    assert cases.get_case(store, case_id).case.leakage_amount == Decimal(3)

    for step in path_to("closed")[1:]:
        cases.move(store, case_id, step, "alice", recovered_amount="3" if step == "recovered" else None)
    result = cases.sync_findings(store, [finding("F1", "1"), finding("F2", "2"), finding("F3", "4")], now=T0)
    assert result == cases.SyncResult(new_cases=1, findings_attached=1, findings_gone=0)
    closed, new = cases.list_cases(store)
    assert (closed.case_id, closed.status, closed.leakage_amount) == (case_id, "closed", Decimal(3))
    assert (new.status, new.title, new.leakage_amount) == ("open", closed.title, Decimal(4))
    assert [f.finding_id for f in cases.get_case(store, new.case_id).findings] == ["F3"]

    cases.move(store, new.case_id, "cancelled", "alice", note="duplicate of the closed case")
    cases.sync_findings(store, [finding("F3", "4"), finding("F4", "5")], now=T0)
    assert [(c.status, c.leakage_amount) for c in cases.list_cases(store)] == [
        ("closed", Decimal(0)),  # F1 and F2 are gone now
        ("cancelled", Decimal(4)),
        ("open", Decimal(5)),
    ]


def test_findings_that_disappear_are_kept_but_not_present(store):
    case_id = one_case(store, finding("F1", "1.25"), finding("F2", "2.50"))
    result = cases.sync_findings(store, [finding("F1", "1.25")], now=T0 + timedelta(days=1))
    assert result == cases.SyncResult(new_cases=0, findings_attached=0, findings_gone=1)
    detail = cases.get_case(store, case_id)
    assert detail.case.leakage_amount == Decimal("1.25")
    assert [(f.finding_id, f.present, f.leakage_amount, f.last_seen_at) for f in detail.findings] == [
        ("F1", True, Decimal("1.25"), T0 + timedelta(days=1)),
        ("F2", False, Decimal("2.50"), T0),  # its last amount and sighting are kept
    ]
    assert [e.action for e in detail.events][-1] == "leakage_changed"

    for _ in range(2):  # the second empty run is not news
        cases.sync_findings(store, [], now=T0 + timedelta(days=2))
    detail = cases.get_case(store, case_id)
    assert detail.case.status == "open"  # status is the analysts'
    assert detail.case.leakage_amount == Decimal(0)
    assert [e.action for e in detail.events].count("findings_gone") == 1
    assert not any(f.present for f in detail.findings)

    cases.sync_findings(store, [finding("F2", "2.50")], now=T0 + timedelta(days=3))
    detail = cases.get_case(store, case_id)
    assert [f.finding_id for f in detail.findings if f.present] == ["F2"]
    assert detail.events[-1].action == "findings_back"
    assert detail.case.leakage_amount == Decimal("2.50")


def test_money_is_exact_decimal_stored_as_text(store):
    cases.sync_findings(
        store,
        [
            finding("F1", "0.1"),
            finding("F2", "0.2"),
            finding("F3", "999999999999.999999", account="ACC-9"),
            finding("F4", "0.000001", account="ACC-9"),
            finding("F5", "0.100000", account="ACC-8"),  # DECIMAL(18, 6) from the mart keeps its scale
            finding("F6", "0.200000", account="ACC-8"),
        ],
        now=T0,
    )
    by_account = {c.account_id: c.case_id for c in cases.list_cases(store)}
    case_id, big, scaled = by_account["ACC-0001"], by_account["ACC-9"], by_account["ACC-8"]
    assert cases.get_case(store, case_id).case.leakage_amount == Decimal("0.3")  # not 0.30000000000000004
    assert cases.get_case(store, big).case.leakage_amount == Decimal("1000000000000.000000")
    cases.set_recovered(store, scaled, Decimal("0.000001"), "bob")
    with sqlite3.connect(store) as con:
        stored = dict(con.execute("select case_id, leakage_amount from cases"))
        types = set(con.execute("select typeof(leakage_amount), typeof(recovered_amount) from cases"))
        types |= set(con.execute("select typeof(leakage_amount), typeof(amount) from case_findings, case_events"))
    assert stored == {case_id: "0.3", big: "1000000000000.000000", scaled: "0.300000"}
    assert types <= {("text", "text"), ("text", "null")}
    assert cases.get_case(store, scaled).case.recovered_amount == Decimal("0.000001")  # not 1E-6


def test_read_findings_from_the_warehouse_mart(store):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_leakage_findings (finding_id varchar, control_id varchar, leakage_area varchar, "
        "finding_type varchar, account_id varchar, billing_period date, currency varchar, "
        "expected_amount decimal(18, 6), billed_amount decimal(18, 6), leakage_amount decimal(18, 6), "
        "direction varchar, evidence_call_ids varchar[], detail varchar)"
    )
    con.execute(
        "insert into marts.fct_leakage_findings values "
        "('F2', 'RA-07', 'usage', 'unbilled_usage', null, '2026-09-01', 'EUR', 0.2, 0, 0.2, 'under_billing', "
        "['c3'], 'switch level'), "
        "('F1', 'RA-07', 'usage', 'unbilled_usage', 'ACC-0001', '2026-09-01', 'EUR', 0.1, 0, 0.1, 'under_billing', "
        "['c1', 'c2'], null)"
    )
    findings = cases.read_findings(con)
    assert findings[0] == Finding(
        "F1",
        "RA-07",
        "usage",
        "unbilled_usage",
        "ACC-0001",
        SEP,
        "EUR",
        Decimal("0.1"),
        Decimal(0),
        Decimal("0.1"),
        "under_billing",
        leakage_reporting=Decimal("0.1"),  # EUR is the reporting currency
    )
    assert (findings[1].account_id, findings[1].detail) == (None, "switch level")
    assert cases.sync_findings(store, findings, now=T0) == cases.SyncResult(2, 2, 0)
    assert [c.leakage_amount for c in cases.list_cases(store)] == [Decimal("0.100000"), Decimal("0.200000")]


# --- concurrency ---------------------------------------------------------------------------------------


def test_a_second_writer_waits_for_the_first_instead_of_failing(store):
    case_id = one_case(store)
    holder = cases.connect(store)
    holder.execute("begin immediate")
    holder.execute("update cases set owner = 'first' where case_id = ?", [case_id])
    outcome: list[object] = []

    def second_writer() -> None:
        try:
            outcome.append(cases.assign(store, case_id, "second", "bob"))
        except Exception as exc:  # reported below, not lost in the thread
            outcome.append(exc)

    thread = threading.Thread(target=second_writer)
    thread.start()
    try:
        time.sleep(0.5)
        assert thread.is_alive() and not outcome  # waiting on the lock, not failed
        assert cases.get_case(store, case_id).case.owner is None  # readers see the last commit meanwhile
        holder.execute("commit")
    finally:
        holder.close()
        thread.join(timeout=cases.BUSY_TIMEOUT_S)
    (result,) = outcome
    assert isinstance(result, cases.Case), result
    assert result.owner == "second"  # applied after the first writer's commit
    assert [e.note for e in cases.get_case(store, case_id).events if e.action == "assigned"] == ["first -> second"]
    with sqlite3.connect(store) as con:
        assert con.execute("pragma integrity_check").fetchone() == ("ok",)


# --- reads and KPIs ------------------------------------------------------------------------------------


def test_list_filters_and_kpis(store):
    cases.sync_findings(
        store,
        [
            finding("F1", "100"),
            finding("F2", "200", account="ACC-0002"),
            finding("F3", "300", account="ACC-0003"),
            finding("F4", "40", account="ACC-0004", currency="USD"),
            finding("F5", "50", account="ACC-0005", period=OCT),
        ],
        now=T0,
    )
    one, two, three, four, five = (c.case_id for c in cases.list_cases(store))
    for case_id, days, amount in ((one, 3, "60"), (two, 5, "200"), (four, 1, "40")):
        walk(store, case_id, "recovery_pending")
        cases.set_recovered(store, case_id, amount, "alice")
        cases.move(store, case_id, "recovered", "alice", now=T0 + timedelta(days=days))
    cases.move(store, three, "cancelled", "alice")
    cases.assign(store, two, "alice", "lead")
    cases.assign(store, five, "bob", "lead")

    assert [c.case_id for c in cases.list_cases(store, status="recovered")] == [one, two, four]
    assert [c.case_id for c in cases.list_cases(store, owner="alice")] == [two]
    assert [c.case_id for c in cases.list_cases(store, period=date(2026, 10, 17))] == [five]
    assert [c.case_id for c in cases.list_cases(store, status="recovered", period=SEP, owner="alice")] == [two]
    assert cases.list_cases(store, owner="nobody") == []

    kpis = case_kpis(store)
    assert kpis.cases == 5
    assert kpis.by_status == dict.fromkeys(STATUSES, 0) | {"recovered": 3, "cancelled": 1, "open": 1}
    assert kpis.leakage == {"EUR": Decimal(350), "USD": Decimal(40)}  # the cancelled 300 is not leakage
    assert kpis.recovered == {"EUR": Decimal(260), "USD": Decimal(40)}
    assert kpis.recovered_pct == {"EUR": Decimal("74.29"), "USD": Decimal("100.00")}  # 260 / 350; 40 / 40
    assert kpis.mean_days_to_recovery == pytest.approx(3.0)
    october = case_kpis(store, period=OCT)
    assert (october.cases, october.recovered, october.mean_days_to_recovery) == (1, {"EUR": Decimal(0)}, None)


# --- the command line ----------------------------------------------------------------------------------


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOLLHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOLLHOUSE_USER", "alice")
    return Paths.from_env().cases


@pytest.mark.parametrize(
    "action",
    [[], ["list"], ["show"], ["assign"], ["move"], ["note"], ["recover"], ["correct"], ["approve"], ["reject"]],
)
def test_every_case_command_has_help(action, capsys):
    with pytest.raises(SystemExit) as done:
        main(["case", *action, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tollhouse case{''.join(' ' + a for a in action)}")
    assert "--help" in out


def test_the_case_commands_work_a_case(cli_store, capsys):
    cases.sync_findings(cli_store, [finding("F1", "12.50"), finding("F2", "7", account="ACC-0002")], now=T0)
    assert main(["case", "list"]) == 0
    out = capsys.readouterr().out
    assert "CASE-000001  open" in out and "12.50 EUR" in out and "2 case(s) shown" in out
    assert main(["case", "assign", "CASE-000001", "alice"]) == 0
    assert main(["case", "move", "CASE-000001", "investigating", "--note", "looking at switch 3"]) == 0
    assert main(["case", "note", "CASE-000001", "the file came late"]) == 0
    assert "CASE-000001 is now investigating" in capsys.readouterr().out

    assert main(["case", "list", "--status", "investigating", "--owner", "alice", "--period", "2026-09"]) == 0
    out = capsys.readouterr().out
    assert "CASE-000001" in out and "CASE-000002" not in out and "1 case(s) shown" in out
    assert main(["case", "list", "--period", "2026-08"]) == 0
    assert "0 case(s) shown" in capsys.readouterr().out

    assert main(["case", "show", "CASE-000001"]) == 0
    out = capsys.readouterr().out
    assert "status investigating   owner alice" in out
    assert "F1  unbilled_usage  under_billing  usage  present" in out
    assert "expected 12.50 EUR, billed 0.00 EUR, leakage 12.50 EUR" in out
    assert "status_changed open -> investigating: looking at switch 3" in out
    assert "note: the file came late" in out
    actors = {e.actor for e in cases.get_case(cli_store, "CASE-000001").events if e.action != "finding_attached"}
    assert actors == {"pipeline", "alice"}  # TOLLHOUSE_USER


def test_the_case_commands_refuse_with_exit_2_and_the_reason(cli_store, capsys):
    cases.sync_findings(cli_store, [finding("F1", "12.50")], now=T0)
    assert main(["case", "move", "CASE-000001", "recovered"]) == 2
    assert (
        "case move: CASE-000001 is open and cannot move to recovered (allowed next: investigating, cancelled)"
        in capsys.readouterr().out
    )
    assert main(["case", "show", "CASE-000042"]) == 2
    assert "no case 'CASE-000042'" in capsys.readouterr().out
    assert main(["case", "list", "--status", "done"]) == 2
    assert "unknown status 'done'" in capsys.readouterr().out

    for step in path_to("recovery_pending"):
        assert main(["case", "move", "CASE-000001", step]) == 0
    assert main(["case", "move", "CASE-000001", "recovered"]) == 2
    assert "without a recovered amount above zero" in capsys.readouterr().out
    assert main(["case", "move", "CASE-000001", "recovered", "--recovered", "12.50"]) == 0
    assert cases.get_case(cli_store, "CASE-000001").case.recovered_amount == Decimal("12.50")
    with pytest.raises(SystemExit) as done:
        main(["case", "move", "CASE-000001", "closed", "--recovered", "lots"])
    assert done.value.code == 2
    assert "expected an amount like 1234.56, got 'lots'" in capsys.readouterr().err


# --- roll-up by control, account and period; materiality; the version 3 migration -----------------------


def money_finding(finding_id: str, amount: str, reporting: str | None, **kwargs) -> Finding:
    """A finding with its leakage in the reporting currency (None: no rate known)."""
    made = finding(finding_id, amount, **kwargs)
    return Finding(**{**made.__dict__, "leakage_reporting": None if reporting is None else Decimal(reporting)})


def test_a_case_keeps_its_id_while_its_findings_change_type_and_amount(store):
    cases.sync_findings(store, [finding("F1", "2", kind="unbilled_usage")], now=T0)
    (case,) = cases.list_cases(store)
    later = T0 + timedelta(days=1)
    result = cases.sync_findings(store, [finding("F2", "3", kind="duplicate_billing")], now=later)
    assert result == cases.SyncResult(new_cases=0, findings_attached=1, findings_gone=1)
    (again,) = cases.list_cases(store)
    assert (again.case_id, again.leakage_amount) == (case.case_id, Decimal(3))  # F1 gone, F2 present
    assert again.finding_type == "duplicate_billing|unbilled_usage"
    assert again.title == "RA-07 duplicate_billing, unbilled_usage: ACC-0001 2026-09"
    assert cases.case_of_finding(store, "F1") == cases.case_of_finding(store, "F2") == case.case_id


def test_findings_below_materiality_are_filed_without_a_case_until_their_group_reaches_it(store):
    # ACC-0001 RA-07 September: 0.40 + 0.35 EUR = 0.75 < 1.00; ACC-0002 in USD: 1.10 USD is 0.98 EUR < 1.00
    small = [
        money_finding("F1", "0.40", "0.40"),
        money_finding("F2", "0.35", "0.35"),
        money_finding("F3", "1.10", "0.98", account="ACC-0002", currency="USD"),
    ]
    other = [
        money_finding("F4", "1.00", "1.00", account="ACC-0003"),  # exactly the threshold: a case
        money_finding("F5", "0.10", None, account="ACC-0004", currency="GBP"),  # no rate known: a case
        Finding(**{**finding("F6", "0", account="ACC-0005", control="RA-01").__dict__, "currency": None,
                   "direction": "none", "leakage_reporting": None}),  # a signal without money: a case
    ]  # fmt: skip
    result = cases.sync_findings(store, small + other, now=T0, materiality="1.00")
    assert result == cases.SyncResult(new_cases=3, findings_attached=3, findings_gone=0, below_materiality=3)
    assert sorted(c.account_id for c in cases.list_cases(store)) == ["ACC-0003", "ACC-0004", "ACC-0005"]
    below = cases.below_materiality(store)
    assert [(b.finding_id, b.leakage_amount, b.leakage_reporting) for b in below] == [
        ("F3", Decimal("1.10"), Decimal("0.98")),
        ("F1", Decimal("0.40"), Decimal("0.40")),
        ("F2", Decimal("0.35"), Decimal("0.35")),
    ]
    assert cases.case_of_finding(store, "F1") is None
    assert case_kpis(store).below_materiality == 3
    again = cases.sync_findings(store, small + other, now=T0, materiality="1.00")
    assert again == cases.SyncResult(0, 0, 0, below_materiality=3)  # idempotent

    # the next run finds 0.30 more on ACC-0001: 0.40 + 0.35 + 0.30 = 1.05, the group opens a case with all three
    later = T0 + timedelta(days=1)
    grown = [*small, money_finding("F7", "0.30", "0.30"), *other]
    result = cases.sync_findings(store, grown, now=later, materiality="1.00")
    assert result == cases.SyncResult(new_cases=1, findings_attached=3, findings_gone=0, below_materiality=1)
    (opened,) = [c for c in cases.list_cases(store) if c.account_id == "ACC-0001"]
    assert opened.leakage_amount == Decimal("1.05")
    assert [f.finding_id for f in cases.get_case(store, opened.case_id).findings] == ["F1", "F2", "F7"]
    assert [b.finding_id for b in cases.below_materiality(store)] == ["F3"]

    # a finding in a case stays there for life, whatever it is worth later
    shrunk = [money_finding("F1", "0.01", "0.01"), *grown[1:]]
    cases.sync_findings(store, shrunk, now=later, materiality="1.00")
    assert cases.case_of_finding(store, "F1") == opened.case_id
    # a below-materiality finding no longer produced is kept, not present
    cases.sync_findings(store, [f for f in shrunk if f.finding_id != "F3"], now=later, materiality="1.00")
    assert cases.below_materiality(store) == []
    assert [(b.finding_id, b.present) for b in cases.below_materiality(store, present_only=False)] == [("F3", False)]
    with pytest.raises(CaseError, match="materiality threshold cannot be negative"):
        cases.sync_findings(store, [], materiality="-1")


def test_recovered_counts_under_billing_and_collection_cases_not_refunds(store):
    cases.sync_findings(
        store,
        [
            finding("F1", "30"),  # under_billing
            Finding(**{**finding("F2", "20", account="ACC-0002").__dict__, "direction": "over_billing"}),
            Finding(**{**finding("F3", "15", account="ACC-0003", control="RA-15").__dict__, "direction": "collection"}),
        ],
        now=T0,
    )  # fmt: skip
    under, over, collection = (c.case_id for c in cases.list_cases(store))
    for case_id, amount, done in ((under, "30", "recovered"), (over, "20", "refunded"), (collection, "5", "recovered")):
        walk(store, case_id, done)
        cases.correct_recovery(store, case_id, cases.get_case(store, case_id).entries[0].entry_id, amount, "bob",
                               "the amount paid", approval_above="1000")  # fmt: skip
    kpis = case_kpis(store)
    assert kpis.leakage == {"EUR": Decimal(45)}  # 30 + 15: the over-billing case is a refund owed
    assert kpis.recovered == {"EUR": Decimal(35)}  # 30 + 5: the over-billing refund is not revenue recovered
    assert kpis.refunds_owed == {"EUR": Decimal(20)}
    assert kpis.refunded == {"EUR": Decimal(20)}


def test_read_findings_values_each_in_the_reporting_currency_at_its_month_end_rate(store):
    con = duckdb.connect()
    con.execute("create schema marts; create schema intermediate")
    con.execute(
        "create table marts.fct_leakage_findings (finding_id varchar, control_id varchar, leakage_area varchar, "
        "finding_type varchar, account_id varchar, billing_period date, currency varchar, "
        "expected_amount decimal(18, 6), billed_amount decimal(18, 6), leakage_amount decimal(18, 6), "
        "direction varchar, detail varchar)"
    )
    con.execute(
        "create table intermediate.int_fx_rates_carried_forward (base_currency varchar, quote_currency varchar, "
        "rate_day date, rate decimal(18, 8))"
    )
    con.execute(
        "insert into intermediate.int_fx_rates_carried_forward values ('USD', 'EUR', '2026-09-30', 0.9), "
        "('USD', 'EUR', '2026-09-29', 0.5), ('GBP', 'EUR', '2026-08-31', 1.2)"
    )
    con.execute(
        "insert into marts.fct_leakage_findings values "
        "('F1', 'RA-03', 'billing', 'unbilled_usage', 'A1', '2026-09-01', 'USD', 2.5, 0, 2.5, 'under_billing', ''), "
        "('F2', 'RA-03', 'billing', 'unbilled_usage', 'A2', '2026-09-01', 'GBP', 1, 0, 1, 'under_billing', ''), "
        "('F3', 'RA-03', 'billing', 'unbilled_usage', 'A3', '2026-09-01', 'EUR', 0.7, 0, 0.7, 'under_billing', '')"
    )
    got = {f.finding_id: f.leakage_reporting for f in cases.read_findings(con, "EUR")}
    assert got == {"F1": Decimal("2.25"), "F2": None, "F3": Decimal("0.7")}  # no GBP rate on 30 September


def test_a_version_2_store_migrates_its_open_cases_to_the_new_groups(tmp_path):
    store = tmp_path / "cases.sqlite"
    con = sqlite3.connect(store, isolation_level=None)
    for statements in cases.MIGRATIONS[:2]:
        for statement in statements:
            con.execute(statement)
    con.execute("update schema_version set version = 2")
    old = [  # case, group_key of version 2 (with the type), type, status
        ("CASE-000001", '["RA-03", "unbilled_usage", "A1", "2026-09-01", "EUR"]', "unbilled_usage", "closed"),
        ("CASE-000002", '["RA-03", "duplicate_billing", "A1", "2026-09-01", "EUR"]', "duplicate_billing", "open"),
        ("CASE-000003", '["RA-03", "billed_without_usage", "A1", "2026-09-01", "EUR"]', "billed_without_usage",
         "investigating"),
        ("CASE-000004", '["RA-03", "unbilled_usage", null, "2026-09-01", null]', "unbilled_usage", "open"),
    ]  # fmt: skip
    for case_id, key, kind, status in old:
        account = None if "null" in key else "A1"
        currency = None if account is None else "EUR"
        con.execute(
            "insert into cases (case_id, group_key, title, control_id, finding_type, account_id, billing_period, "
            "currency, status, leakage_amount, created_at, updated_at) "
            "values (?, ?, 't', 'RA-03', ?, ?, '2026-09-01', ?, ?, '1', ?, ?)",
            [case_id, key, kind, account, currency, status, T0.isoformat(), T0.isoformat()],
        )
        con.execute(
            "insert into case_findings values (?, ?, ?, '1', ?, 1)",
            [f"OLD-{case_id[-1]}", case_id, T0.isoformat(), T0.isoformat()],
        )
    con.close()

    assert [c.case_id for c in cases.list_cases(store)] == ["CASE-000001", "CASE-000002", "CASE-000003",
                                                            "CASE-000004"]  # fmt: skip
    with sqlite3.connect(store) as check:
        assert check.execute("select version from schema_version").fetchall() == [(cases.SCHEMA_VERSION,)]
    current = [
        *(finding(f"OLD-{n}", "1", account="A1", control="RA-03") for n in (1, 2, 3)),
        finding("OLD-4", "1", account=None, control="RA-03", currency=None),
        finding("NEW-1", "2", account="A1", control="RA-03", kind="unbilled_usage"),
        finding("NEW-2", "3", account=None, control="RA-03", currency=None),
    ]
    result = cases.sync_findings(store, current, now=T0)
    assert result == cases.SyncResult(new_cases=0, findings_attached=2, findings_gone=0)
    # the oldest open case of the new group (control, account, period, currency) takes the new finding
    assert cases.case_of_finding(store, "NEW-1") == "CASE-000002"
    assert cases.case_of_finding(store, "NEW-2") == "CASE-000004"
    assert cases.case_of_finding(store, "OLD-3") == "CASE-000003"  # an old open case keeps its findings
    assert cases.get_case(store, "CASE-000002").case.finding_type == "duplicate_billing|unbilled_usage"
    assert cases.get_case(store, "CASE-000003").case.status == "investigating"


def test_case_list_below_materiality_lists_the_findings_filed_without_a_case(cli_store, capsys):
    small = [money_finding("F1", "0.40", "0.40"), money_finding("F2", "0.25", "0.25", period=OCT)]
    cases.sync_findings(cli_store, [*small, money_finding("F3", "5", "5", account="ACC-0002")], materiality="1")
    assert main(["case", "list", "--below-materiality"]) == 0
    out = capsys.readouterr().out
    assert "F1  RA-07  unbilled_usage" in out and "0.40 EUR  below materiality" in out
    assert "2 finding(s) below materiality" in out and "CASE-" not in out
    assert main(["case", "list", "--below-materiality", "--period", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert "F2" in out and "F1" not in out and "1 finding(s) below materiality" in out
