"""Line-level bill accuracy and order to bill at the account level (RA-18..RA-21), hand-worked on one clean
simulated September (tests/worlds.py) whose billing export the mutations below change, each on its own
account:

- three usage lines of ACC-00001 moved onto ACC-00007's invoice (both GBP): RA-18 billed_to_wrong_account,
  each call under-billed on ACC-00001 by its line's amount and over-billed on ACC-00007 by the same;
- ACC-00005's invoice never issued (lines, header and the payments naming it removed): one RA-19 finding
  valued at the removed lines' sum, none per call or per subscription;
- one usage line of ACC-00003 billed at twice its seconds and amount: RA-18 quantity_mismatch, over-billed
  by the line's amount;
- two usage lines of ACC-00009 (USD) labelled GBP at the same number: RA-18 currency_mismatch, each call's
  charge under-billed in full;
- one recurring charge of ACC-00002 (activated 2026-09-15, prorated) billed 10.00 above it: RA-20;
- ACC-00010 moved to GB-SEC-GBP from 2026-09-20 in the catalog while the billing system bills it at
  GB-BIZ-GBP to the month's end: one RA-21 finding, the sum of the calls' differences (priced by the tariff
  contract's reference implementation on the landed catalog), instead of one RA-09 finding per call.

Every other account gives none of these findings; the revenue reconciliation explains every difference.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from orchestration.settings import Paths
from tests.worlds import findings, operator_month, read_rows, write_rows
from tools.simulator.leakage.bill_lines import exports, jurisdictions_from_landing, rewrite_invoices

MOVED_FROM, MOVED_TO = "ACC-00001", "ACC-00007"
NOT_INVOICED = "ACC-00005"
INFLATED = "ACC-00003"
RELABELLED = "ACC-00009"  # a USD account
EARLY = "ACC-00002"
SWITCHED, SWITCH_DAY, OLD_PLAN, NEW_PLAN = "ACC-00010", "2026-09-20", "GB-BIZ-GBP", "GB-SEC-GBP"
MINE = ("RA-18", "RA-19", "RA-20", "RA-21")
CENT = Decimal("0.01")

worked: dict = {}
# one world per module: simulating, loading, mediating, billing and assuring it can take longer than the suite's
# per-test timeout on a loaded machine
pytestmark = pytest.mark.timeout(2400)


def _true_calls(paths: Paths) -> dict[tuple[str, str, str], dict]:
    """(source, record_key, account) -> the true call (ground_truth/calls.parquet)."""
    table = pq.read_table(paths.ground_truth / "calls.parquet").to_pylist()
    return {(c["source"], c["record_key"], c["account_id"]): c for c in table if c["account_id"]}


def _leaks(paths: Paths) -> list[dict]:
    """The billing system's own leaks (ground_truth/leakage.csv): the simulated export is not fault-free."""
    return read_rows(paths.ground_truth / "leakage.csv")


def _mediated_id(call: dict) -> str:
    return f"{call['switch_id']}:{call['record_key']}"  # mediation's call id: switch and record id


def _mutate(paths: Paths) -> None:
    (export,) = exports(paths.landing)
    calls = _true_calls(paths)
    juris = jurisdictions_from_landing(paths.landing)
    number = {h["account_id"]: h["invoice_number"] for h in export.invoices}
    leaks = _leaks(paths)
    leaked = {int(r["call_id"]) for r in leaks if r["call_id"]}

    def usage(account: str) -> list[dict]:
        """The account's correctly billed usage lines with a price."""
        return [li for li in export.lines if li["account_id"] == account and li["line_type"] == "usage"
                and Decimal(li["amount"]) > 0
                and calls[(li["source"], li["record_key"], account)]["call_id"] not in leaked]  # fmt: skip

    # 1. three lines of MOVED_FROM onto MOVED_TO's invoice
    last = max(int(li["line_number"]) for li in export.lines if li["account_id"] == MOVED_TO)
    moved = []
    for n, line in enumerate(usage(MOVED_FROM)[:3], start=1):
        moved.append((_mediated_id(calls[(line["source"], line["record_key"], MOVED_FROM)]), Decimal(line["amount"])))
        line.update(invoice_number=number[MOVED_TO], account_id=MOVED_TO, line_number=str(last + n))
    worked["moved"] = moved

    # 2. NOT_INVOICED's invoice never issued: what it should have carried is its lines corrected by the
    # billing system's own leaks on it (expected - billed of each), the calls its lines and unbilled calls
    gone = [li for li in export.lines if li["account_id"] == NOT_INVOICED]
    mine = [r for r in leaks if r["account_id"] == NOT_INVOICED]
    by_true_id = {c["call_id"]: c for c in calls.values()}
    worked["not_invoiced"] = (
        sum(Decimal(li["amount"]) for li in gone)
        + sum(Decimal(r["expected_amount"]) - Decimal(r["billed_amount"]) for r in mine),
        {_mediated_id(calls[(li["source"], li["record_key"], NOT_INVOICED)])
         for li in gone if li["line_type"] == "usage"}
        | {_mediated_id(by_true_id[int(r["call_id"])]) for r in mine if r["kind"] == "unbilled_call"},
    )  # fmt: skip
    export.lines = [li for li in export.lines if li["account_id"] != NOT_INVOICED]

    # 3. one line of INFLATED at twice its seconds and amount
    line = usage(INFLATED)[0]
    amount = Decimal(line["amount"])
    line.update(quantity=str(2 * int(line["quantity"])), amount=f"{2 * amount:.6f}")
    worked["inflated"] = (_mediated_id(calls[(line["source"], line["record_key"], INFLATED)]), amount)

    # 3b. two lines of RELABELLED billed in GBP at the same number
    relabelled = []
    for line in usage(RELABELLED)[:2]:
        assert line["currency"] == "USD"
        line["currency"] = "GBP"
        relabelled.append(
            (_mediated_id(calls[(line["source"], line["record_key"], RELABELLED)]), Decimal(line["amount"]))
        )
    worked["relabelled"] = relabelled

    # 4. a recurring charge of EARLY (activated mid-month: prorated) billed 10.00 above it
    line = next(li for li in export.lines if li["account_id"] == EARLY and li["line_type"] == "recurring")
    worked["early"] = (line["subscription_id"], Decimal(line["amount"]))
    line["amount"] = f"{Decimal(line['amount']) + 10:.6f}"

    rewrite_invoices(paths.landing, export, juris, [number[a] for a in (MOVED_FROM, MOVED_TO, NOT_INVOICED,
                                                                            INFLATED, EARLY)])  # fmt: skip

    # 5. SWITCHED changes plan on SWITCH_DAY in the catalog; the billing system keeps the old plan
    path = paths.landing / "catalog" / "2026-09-01" / "plan_assignments.csv"
    rows = read_rows(path)
    (current,) = [r for r in rows if r["account_id"] == SWITCHED]
    assert current["rate_plan_id"] == OLD_PLAN and not current["valid_to"]
    current["valid_to"] = SWITCH_DAY
    rows.append({"account_id": SWITCHED, "rate_plan_id": NEW_PLAN, "valid_from": SWITCH_DAY, "valid_to": ""})
    write_rows(path, rows)
    after = []
    for li in [li for li in export.lines if li["account_id"] == SWITCHED and li["line_type"] == "usage"]:
        call = calls[(li["source"], li["record_key"], SWITCHED)]
        if call["answer_at"].isoformat() >= f"{SWITCH_DAY}T00:00:00+00:00":
            after.append((call, Decimal(li["amount"])))
    worked["switched"] = after


def _reprice(paths: Paths, calls: list[dict], plan: str) -> dict[str, Decimal]:
    """The calls at `plan` by the tariff contract's reference implementation on the landed catalog."""
    import pyarrow as pa

    from orchestration.rating.what_if import rate_against_catalog

    table = pa.table({
        "call_id": [_mediated_id(c) for c in calls],
        "rate_plan_id": [plan] * len(calls),
        "account_id": [None] * len(calls),
        "b_number": [str(c["b_number"]) for c in calls],
        "answer_at": [c["answer_at"].strftime("%Y-%m-%dT%H:%M:%SZ") for c in calls],
        "billable_seconds": [int(c["billable_seconds"]) for c in calls],
    }, schema=pa.schema([("call_id", pa.string()), ("rate_plan_id", pa.string()), ("account_id", pa.string()),
                         ("b_number", pa.string()), ("answer_at", pa.string()),
                         ("billable_seconds", pa.int64())]))  # fmt: skip
    return {r["call_id"]: Decimal(str(r["cost"])) for r in rate_against_catalog(paths.landing / "catalog", table)
            .to_pylist()}  # fmt: skip


@pytest.fixture(scope="module")
def world():
    # October is simulated only so that September's billing export lands (on 1 October): the later days (switch
    # files without a September call, payments no control here reads) would double the run
    with operator_month(_mutate, months=2, calls_per_day=150, through=date(2026, 10, 1)) as (paths, results):
        assert all(r.success for r in results.values())
        yield paths


def _mine(paths: Paths) -> list[dict]:
    return findings(paths, "control_id in ('RA-18', 'RA-19', 'RA-20', 'RA-21')")


def test_call_billed_to_another_account_is_a_finding_on_both(world):
    moved = worked["moved"]
    rows = [f for f in _mine(world) if f["finding_type"] == "billed_to_wrong_account"]
    got = sorted((f["account_id"], f["subject"], f["direction"], f["leakage_amount"]) for f in rows)
    want = sorted([(MOVED_FROM, c, "under_billing", a) for c, a in moved]
                  + [(MOVED_TO, c, "over_billing", a) for c, a in moved])  # fmt: skip
    assert got == want
    assert all(f["evidence_call_ids"] == [f["subject"]] for f in rows)
    ids = [c for c, _ in moved]
    others = findings(world, "control_id in ('RA-03', 'RA-09') and list_has_any(evidence_call_ids, ?)", [ids])
    assert others == []  # not also unbilled on one account and billed without usage on the other


def test_account_not_invoiced_is_one_finding_instead_of_per_call_ones(world):
    value, call_ids = worked["not_invoiced"]
    (row,) = [f for f in _mine(world) if f["account_id"] == NOT_INVOICED]
    assert (row["control_id"], row["finding_type"], row["subject"]) == ("RA-19", "account_not_invoiced", NOT_INVOICED)
    assert (row["expected_amount"], row["billed_amount"], row["leakage_amount"]) == (value, 0, value)
    assert row["direction"] == "under_billing" and row["is_recoverable"]
    assert row["evidence_calls"] == len(call_ids)
    assert len(row["evidence_call_ids"]) == min(100, len(call_ids)) and set(row["evidence_call_ids"]) <= call_ids
    assert findings(world, "account_id = ? and control_id in ('RA-03', 'RA-07')", [NOT_INVOICED]) == []


def test_inflated_quantity(world):
    call_id, amount = worked["inflated"]
    (row,) = [f for f in _mine(world) if f["account_id"] == INFLATED]
    assert (row["control_id"], row["finding_type"], row["subject"]) == ("RA-18", "quantity_mismatch", call_id)
    assert (row["expected_amount"], row["billed_amount"], row["leakage_amount"]) == (amount, 2 * amount, amount)
    assert row["direction"] == "over_billing"
    assert findings(world, "account_id = ? and control_id = 'RA-04'", [INFLATED]) == []


def test_line_in_another_currency(world):
    rows = [f for f in _mine(world) if f["account_id"] == RELABELLED]
    got = sorted((f["control_id"], f["finding_type"], f["subject"], f["currency"], f["expected_amount"],
                  f["billed_amount"], f["leakage_amount"], f["direction"]) for f in rows)  # fmt: skip
    want = sorted(("RA-18", "currency_mismatch", c, "USD", a, 0, a, "under_billing") for c, a in worked["relabelled"])
    assert got == want


def test_subscription_billed_before_activation(world):
    subscription, prorated = worked["early"]
    (row,) = [f for f in _mine(world) if f["account_id"] == EARLY]
    assert (row["control_id"], row["finding_type"], row["subject"]) == ("RA-20", "billed_before_activation",
                                                                        subscription)  # fmt: skip
    assert (row["expected_amount"], row["billed_amount"]) == (prorated, prorated + 10)
    assert (row["leakage_amount"], row["direction"]) == (Decimal("10.00"), "over_billing")
    assert findings(world, "account_id = ? and control_id in ('RA-07', 'RA-08')", [EARLY]) == []


def test_misdated_plan_change_is_one_finding(world):
    after = worked["switched"]
    assert after, "the account has calls after the change"
    repriced = _reprice(world, [c for c, _ in after], NEW_PLAN)
    expected = sum(repriced.values(), Decimal(0))
    billed = sum((a for _, a in after), Decimal(0))
    assert expected != billed
    (row,) = [f for f in _mine(world) if f["account_id"] == SWITCHED]
    assert (row["control_id"], row["finding_type"], row["subject"]) == ("RA-21", "plan_change_misdated",
                                                                        f"{SWITCHED}|{SWITCH_DAY}")  # fmt: skip
    assert (row["expected_amount"], row["billed_amount"]) == (expected, billed)
    assert row["leakage_amount"] == abs(expected - billed)
    assert row["direction"] == ("under_billing" if expected > billed else "over_billing")
    assert row["evidence_calls"] == len(after)
    first = sorted(after, key=lambda pair: (pair[0]["answer_at"], _mediated_id(pair[0])))[:100]
    assert row["evidence_call_ids"] == [_mediated_id(c) for c, _ in first]  # the first 100 by answer time
    assert findings(world, "account_id = ? and control_id = 'RA-09'", [SWITCHED]) == []


def test_clean_accounts_give_none_and_everything_is_explained(world):
    touched = {MOVED_FROM, MOVED_TO, NOT_INVOICED, INFLATED, RELABELLED, EARLY, SWITCHED}
    assert [f for f in _mine(world) if f["account_id"] not in touched] == []
    assert len(_mine(world)) == 2 * len(worked["moved"]) + len(worked["relabelled"]) + 4
    from orchestration.warehouse import connect

    with connect(world.warehouse, read_only=True) as con:
        unexplained = con.execute(
            "select account_id, unexplained from marts.rpt_revenue_reconciliation where unexplained <> 0"
        ).fetchall()
        covered = dict(con.execute(
            "select control_id, items_checked from marts.rpt_control_coverage where control_id in ?", [list(MINE)]
        ).fetchall())  # fmt: skip
    assert unexplained == []
    assert sorted(covered) == list(MINE) and all(covered.values())


def test_header_rewrite_matches_the_billing_system(tmp_path):
    """rewrite_invoices recomputes a header as the billing system does: net per charge type to cents, tax per
    charge type at the jurisdiction's rate, total; a payment of the old total in full pays the new one."""
    landing = tmp_path / "landing"
    (landing / "billing_export" / "2026-10-01").mkdir(parents=True)
    (landing / "payments" / "2026-10-05").mkdir(parents=True)
    inv = landing / "billing_export" / "2026-10-01" / "invoices.csv"
    lines = landing / "billing_export" / "2026-10-01" / "invoice_lines.csv"
    pay = landing / "payments" / "2026-10-05" / "payments.csv"
    write_rows(inv, [{"invoice_number": "INV-1", "account_id": "A", "billing_period": "2026-09-01",
                      "currency": "GBP", "issue_date": "2026-10-01", "net_amount": "1.00", "tax_amount": "0.20",
                      "total_amount": "1.20"}])  # fmt: skip
    base = {"invoice_number": "INV-1", "account_id": "A", "billing_period": "2026-09-01", "source": "",
            "record_key": "", "rate_plan_id": "", "subscription_id": "", "product_id": "X", "quantity": "1",
            "currency": "GBP"}  # fmt: skip
    write_rows(lines, [
        base | {"line_number": "1", "line_type": "usage", "amount": "0.014"},
        base | {"line_number": "2", "line_type": "usage", "amount": "0.021"},  # usage net 0.035 -> 0.04
        base | {"line_number": "3", "line_type": "recurring", "amount": "12.345"},  # 12.345 -> 12.35
    ])  # fmt: skip
    write_rows(pay, [{"payment_id": "P1", "account_id": "A", "invoice_number": "INV-1", "amount": "1.20",
                      "currency": "GBP", "received_date": "2026-10-05", "method": "card"},
                     {"payment_id": "P2", "account_id": "A", "invoice_number": "INV-1", "amount": "0.50",
                      "currency": "GBP", "received_date": "2026-10-05", "method": "card"}])  # fmt: skip
    (export,) = exports(landing)
    changes = rewrite_invoices(landing, export, {"A": "GB"}, ["INV-1"])
    # GB VAT 20 %: usage 0.04 -> 0.01 (0.008), recurring 12.35 -> 2.47; total 12.39 + 2.48
    assert changes == {"INV-1": (Decimal("1.20"), Decimal("14.87"))}
    (header,) = read_rows(inv)
    assert (header["net_amount"], header["tax_amount"], header["total_amount"]) == ("12.39", "2.48", "14.87")
    assert [r["amount"] for r in read_rows(pay)] == ["14.87", "0.50"]
    with lines.open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3
