"""Discount recomputation (RA-26) on one simulated operator (docs/assurance.md): the billing system applies the
catalogue's promotions as discount lines; four hand-worked mutations of the landed September export, one account
each, every changed header recomputed from its lines as the billing system computes it (so RA-22 has nothing to
say) and a full payment following:

  the DE usage promotion (5 %)             its discount line dropped               discount_not_applied, the line's
                                                                                    amount, over-billing
  the GB recurring promotion (12.5 %)      the discount at 20 % of the same base    discount_over_applied, 20 % - 12.5 %
                                                                                    of the base, under-billing
  the GB usage promotion expired 2 August  applied to September's usage at 10 %     discount_over_applied, all of it
  an account with no promotion             the DE usage promotion (5 %) of          discount_over_applied, all of it
                                           another account on its usage

Every value is worked out in the test from the lines it changed. The other promotions (among them one that ends
on 26 September, prorated by days) must give no RA-26 finding, and no header any RA-22 finding.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from orchestration.settings import Paths
from tests.worlds import findings, landed, operator_month, read_rows, write_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

CENT = Decimal("0.01")
PERIOD = "2026-09-01"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _promotions(paths: Paths) -> dict[str, dict[str, str]]:
    return {r["promotion_id"]: r for path in landed(paths, "catalog", "promotions.csv") for r in read_rows(path)}


def _recompute_header(paths: Paths, number: str) -> None:
    """The billing system's header step on the changed lines (net per tax type, a discount under its
    promotion's charge type; tax per charge type; total), a full payment following."""
    from tools.simulator.leakage.bill_lines import exports, jurisdictions_from_landing, rewrite_invoices

    (export,) = [e for e in exports(paths.landing) if e.day == "2026-10-01"]
    rewrite_invoices(paths.landing, export, jurisdictions_from_landing(paths.landing), [number], rediscount=False)


EXPECTED: dict[str, tuple[str, Decimal, Decimal, Decimal, str]] = {}  # subject -> type, expected, billed, value, dir


def _mutate(paths: Paths) -> None:
    (lines_path,) = [p for p in landed(paths, "billing_export", "invoice_lines.csv") if "2026-10-01" in str(p)]
    promos = _promotions(paths)
    by_account = {p["account_id"]: p for p in promos.values()}

    def own(rows: list[dict[str, str]], account: str, line_type: str) -> list[dict[str, str]]:
        return [r for r in rows if r["account_id"] == account and r["line_type"] == line_type]

    def promo(charge_type: str, percent: str) -> dict[str, str]:
        return next(p for p in promos.values() if p["charge_type"] == charge_type and p["discount_percent"] == percent)

    rows = read_rows(lines_path)
    changed: list[str] = []

    # 1. the 5 % usage promotion's discount line dropped
    p5 = promo("usage", "5")
    (line,) = [r for r in own(rows, p5["account_id"], "discount") if r["product_id"] == p5["promotion_id"]]
    rows.remove(line)
    amount = -Decimal(line["amount"])
    number = line["invoice_number"]
    EXPECTED[f"{number}|{p5['promotion_id']}"] = ("discount_not_applied", amount, Decimal(0), amount, "over_billing")
    changed.append(number)

    # 2. the 12.5 % recurring promotion (valid all September) at 20 % of the same base: its recurring lines
    p125 = promo("recurring", "12.5")
    base = sum(Decimal(r["amount"]) for r in own(rows, p125["account_id"], "recurring"))
    (line,) = [r for r in own(rows, p125["account_id"], "discount") if r["product_id"] == p125["promotion_id"]]
    right, wrong = _cents(base * Decimal("0.125")), _cents(base * Decimal("0.20"))
    assert -Decimal(line["amount"]) == right  # the billing system's own discount is 12.5 % of the base
    line["amount"] = f"{-wrong:.6f}"
    EXPECTED[f"{line['invoice_number']}|{p125['promotion_id']}"] = (
        "discount_over_applied", right, wrong, wrong - right, "under_billing")  # fmt: skip
    changed.append(line["invoice_number"])

    def add(account: str, promotion_id: str, amount: Decimal) -> str:
        mine = [r for r in rows if r["account_id"] == account]
        new = dict.fromkeys(rows[0], "")
        new.update(invoice_number=mine[0]["invoice_number"], account_id=account, billing_period=PERIOD,
                   line_type="discount", product_id=promotion_id, quantity="1", amount=f"{-amount:.6f}",
                   currency=mine[0]["currency"],
                   line_number=str(max(int(r["line_number"]) for r in mine) + 1))  # fmt: skip
        rows.append(new)
        return new["invoice_number"]

    # 3. the usage promotion that expired on 2 August applied to September's usage at its 10 %
    expired = next(p for p in promos.values() if p["valid_to"] and p["valid_to"] <= PERIOD)
    assert expired["charge_type"] == "usage" and expired["discount_percent"] == "10"
    usage = sum(Decimal(r["amount"]) for r in own(rows, expired["account_id"], "usage"))
    amount = _cents(usage * Decimal("0.10"))
    number = add(expired["account_id"], expired["promotion_id"], amount)
    EXPECTED[f"{number}|{expired['promotion_id']}"] = ("discount_over_applied", Decimal(0), amount, amount,
                                                        "under_billing")  # fmt: skip
    changed.append(number)

    # 4. the same 5 % usage promotion of another account on the usage of an account with no promotion
    victim = sorted({r["account_id"] for r in rows} - set(by_account))[0]
    amount = _cents(sum(Decimal(r["amount"]) for r in own(rows, victim, "usage")) * Decimal("0.05"))
    number = add(victim, p5["promotion_id"], amount)
    EXPECTED[f"{number}|{p5['promotion_id']}"] = ("discount_over_applied", Decimal(0), amount, amount,
                                                   "under_billing")  # fmt: skip
    changed.append(number)

    write_rows(lines_path, rows)
    for number in changed:
        _recompute_header(paths, number)


@pytest.fixture(scope="module")
def world():
    EXPECTED.clear()
    # the billing modules' world (150 calls a day, the simulation shared); October simulated only for
    # September's billing export, which lands on 1 October: the later days are not needed
    with operator_month(_mutate, months=2, calls_per_day=150, through=date(2026, 10, 1)) as (paths, results):
        yield paths, results


def test_the_run_succeeds(world):
    _paths, results = world
    assert all(r.success for r in results.values())


def test_discount_mutations_are_found_exactly(world):
    paths, _ = world
    got = {
        f["subject"]: (f["finding_type"], f["expected_amount"], f["billed_amount"], f["leakage_amount"],
                       f["direction"])
        for f in findings(paths, "control_id = 'RA-26'")
    }  # fmt: skip
    assert len(EXPECTED) == 4 and all(v[3] > CENT for v in EXPECTED.values())
    assert got == EXPECTED


def test_headers_tie_out_with_discount_lines(world):
    """RA-22 ties every header, the changed ones recomputed with their discount lines, to its lines: nothing."""
    paths, _ = world
    assert findings(paths, "control_id = 'RA-22'") == []


def test_simulator_discounts_match_tollhouse_where_the_base_is_the_same(world):
    """Tollhouse and the billing system apply the same promotions by the same rules, each on its own lines.
    Where a promotion is valid all month and both bill the same amount of its charge type (recurring lines of
    subscriptions both charge alike), the discounts are equal. They differ where the bases do: tollhouse's usage
    is what bundles and tiers leave (a tier's flat fee included), the billing system's list charges; a
    subscription month the billing system leaked; a prorated line (the billing system prorates its rounded
    line, tollhouse the exact charge)."""
    from orchestration.warehouse import connect

    paths, _ = world
    promos = _promotions(paths)
    export = [r for path in landed(paths, "billing_export", "invoice_lines.csv") for r in read_rows(path)
              if r["billing_period"] == PERIOD]  # fmt: skip
    with connect(paths.warehouse, read_only=True) as con:
        ours = con.execute(
            """select account_id, line_type, charge_type, amount,
                      regexp_extract(description, 'Promotion (PROMO-[0-9]+)', 1) as promotion_id
               from marts.fct_invoice_lines where billing_period = date '2026-09-01'"""
        ).fetchall()
    compared = 0
    for line in export:
        pid, account = line["product_id"], line["account_id"]
        if line["line_type"] != "discount" or f"INV-202609-{account}|{pid}" in EXPECTED:
            continue
        promo = promos[pid]
        if promo["valid_from"] > PERIOD or (promo["valid_to"] and promo["valid_to"] < "2026-10-01"):
            continue
        theirs = sum(Decimal(r["amount"]) for r in export
                     if r["account_id"] == account and r["line_type"] == promo["charge_type"])  # fmt: skip
        mine = sum(a for acc, kind, _t, a, _p in ours if acc == account and kind == promo["charge_type"])
        if _cents(theirs) != mine:
            continue
        (our_discount,) = [a for acc, kind, _t, a, p in ours if acc == account and kind == "discount" and p == pid]
        assert our_discount == Decimal(line["amount"]), (account, pid)
        compared += 1
    assert compared >= 1  # the 12-account world's whole-month US recurring promotion (15 %), not mutated


def test_discount_families_change_the_landed_files_as_their_ground_truth_says(tmp_path):
    """The discount families on a small simulated two months' files (no pipeline): each finds a target,
    records one leak naming `<invoice>|<promotion>` with its value and direction, and the landed discount line
    says so; the header is its lines' net plus tax."""
    from tools.simulator import SimulationConfig, simulate

    simulate(SimulationConfig(seed=11, start=date(2026, 8, 1), months=2, accounts=30, calls_per_day=100,
                              out=tmp_path, inject_faults=False, fraud="none", leakage="all"))  # fmt: skip
    paths = Paths(tmp_path)
    leaks = {r["family"]: r for r in read_rows(tmp_path / "ground_truth" / "leaks.csv") if r["area"] == "billing"}
    lines = [r for p in landed(paths, "billing_export", "invoice_lines.csv") for r in read_rows(p)]
    headers = {r["invoice_number"]: r for p in landed(paths, "billing_export", "invoices.csv") for r in read_rows(p)}
    discount = {(r["invoice_number"], r["product_id"]): -Decimal(r["amount"]) for r in lines
                if r["line_type"] == "discount"}  # fmt: skip
    expect = {
        "promotion_not_applied": "over_billing",
        "promotion_percent_wrong": None,
        "promotion_after_expiry": "under_billing",
        "promotion_wrong_account": "under_billing",
    }
    for family, direction in expect.items():
        leak = leaks[family]
        number, promotion = leak["subject"].split("|")
        assert leak["subject_kind"] == "invoice" and number in headers
        billed, expected = Decimal(leak["billed_amount"]), Decimal(leak["expected_amount"])
        assert discount.get((number, promotion), Decimal(0)) == billed, family
        assert Decimal(leak["leakage_amount"]) == abs(billed - expected) > CENT, family
        assert leak["direction"] == (direction or ("under_billing" if billed > expected else "over_billing"))
        header = headers[number]
        assert Decimal(header["total_amount"]) == Decimal(header["net_amount"]) + Decimal(header["tax_amount"])
        by_type: dict[str, Decimal] = {}
        for r in lines:
            if r["invoice_number"] == number:
                by_type[r["line_type"]] = by_type.get(r["line_type"], Decimal(0)) + Decimal(r["amount"])
        assert Decimal(header["net_amount"]) == sum(_cents(v) for v in by_type.values())  # a discount is whole cents
