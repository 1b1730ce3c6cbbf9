"""Cost assurance on a small clean operator (tests/worlds.py): RA-25 reconciles the vendors' invoices with the
calls that left by their routes, costed at their decks; RA-12 finds a route and destination that loses money.

One world, its mutations on different vendor invoice lines and destinations, each valued here by hand from the
landed files it changed:
- a Northwind line billed at 1.5x its amount (a higher rate): vendor_overbilled, the excess;
- an Atlas line's minutes raised by 100 and its amount by 3.141593: vendor_overbilled, 3.141593;
- an Atlas line billed twice: vendor_duplicate_line, the copy's amount;
- a Northwind line for a deck destination nobody called: vendor_line_unmatched, its amount;
- an Atlas line billed 1.00 below its amount: vendor_underbilled, nothing lost (direction none);
- an Atlas line whose amount does not parse: vendor_line_unreadable;
- Northwind's deck rate of one international destination raised to 2.00000 GBP a minute: the calls London's
  Northwind route carried to it lose money (RA-12, the loss worked out here call by call from the customer
  plans' and the deck's rate files), and Northwind's invoice line for it, written at the old rate, is now below
  our cost (vendor_underbilled).
The clean lines give no finding.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.settings import Paths
from tests.worlds import findings, landed, operator_month, read_rows, write_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

SCENARIO: dict = {}
NEW_RATE = Decimal("2.00000")
LONDON = zoneinfo.ZoneInfo("Europe/London")
ROUTE = "lon-northwind"
NW, ATLAS = "VND-NORTHWIND", "VND-ATLAS"
METHODS = {"up": ROUND_CEILING, "down": ROUND_DOWN, "half_up": ROUND_HALF_UP}


def _rows(paths: Paths, source: str, name: str) -> list[dict[str, str]]:
    return [row for path in landed(paths, source, name) for row in read_rows(path)]


def _longest(prefixes: set[str], number: str) -> str | None:
    for n in range(len(number), 0, -1):
        if number[:n] in prefixes:
            return number[:n]
    return None


def _price(seconds: int, rate_row: dict[str, str], plan_row: dict[str, str]) -> Decimal:
    """A single-slot rate by hand: whole increments, rate per rate unit, connect fee, the plan's rounding."""
    increment = int(rate_row["increment_s"])
    billed = -(-seconds // increment) * increment
    amount = Decimal(billed) * Decimal(rate_row["rate"]) / Decimal(rate_row["rate_unit_s"])
    amount += Decimal(rate_row["connect_fee"] or "0")
    quantum = Decimal(1).scaleb(-int(plan_row["rounding_decimals"]))
    return amount.quantize(quantum, METHODS[plan_row["rounding_method"]])


def _plain(rate_rows: list[dict[str, str]]) -> bool:
    """One slot from 0 s, for all times, no connect fee or cap: a price worked out by _price."""
    return (
        len(rate_rows) == 1
        and rate_rows[0]["band"] == "*"
        and rate_rows[0]["group_start_s"] == "0"
        and Decimal(rate_rows[0]["connect_fee"] or "0") == 0
        and not rate_rows[0]["max_cost"]
    )


def _want(expected: Decimal | None, billed: Decimal, leakage: Decimal, direction: str) -> dict:
    return {"expected": expected, "billed": billed, "leakage": leakage, "direction": direction}


def _mutate(paths: Paths) -> None:
    invoice_path = landed(paths, "vendor", "vendor_invoices.csv")[-1]
    lines = read_rows(invoice_path)
    fields = list(lines[0])
    vendor_rates = landed(paths, "vendor", "rates.csv")[-1]
    deck = read_rows(vendor_rates)
    nw_plan = next(r["rate_plan_id"] for r in _rows(paths, "vendor", "vendors.csv") if r["vendor_id"] == NW)
    deck_prefixes = {r["prefix"] for r in deck if r["rate_plan_id"] == nw_plan}
    catalog = _rows(paths, "catalog", "rates.csv")
    plans = {r["rate_plan_id"]: r for r in _rows(paths, "catalog", "rate_plans.csv")}
    nw_deck_plan = next(r for r in _rows(paths, "vendor", "rate_plans.csv") if r["rate_plan_id"] == nw_plan)

    # the destination made loss-making: international for the GB plans, priced plainly by both GB plans and the
    # deck, carried by London's Northwind route; the one with most such calls
    calls = pq.read_table(paths.ground_truth / "calls.parquet").to_pylist()
    answered = [
        c for c in calls
        if c["direction"] == "outbound" and c["disposition"] == "answered" and c["billable_seconds"] > 0
        and c["route_id"] is not None and c["route_id"].endswith("-northwind") and c["account_id"] is not None
    ]  # fmt: skip
    for c in answered:
        c["prefix"] = _longest(deck_prefixes, c["b_number"])

    def plain(prefix: str) -> bool:
        gb = [[r for r in catalog if r["rate_plan_id"] == p and r["prefix"] == prefix] for p in plans if p[:3] == "GB-"]
        nw = [r for r in deck if r["rate_plan_id"] == nw_plan and r["prefix"] == prefix]
        return not prefix.startswith("44") and all(_plain(rows) for rows in gb) and _plain(nw)

    counts: dict[str, int] = {}
    for c in answered:
        if c["route_id"] == ROUTE and c["prefix"]:
            counts[c["prefix"]] = counts.get(c["prefix"], 0) + 1
    destination = max((p for p in counts if plain(p)), key=lambda p: (counts[p], p))
    for row in deck:
        if row["rate_plan_id"] == nw_plan and row["prefix"] == destination:
            row["rate"] = format(NEW_RATE, "f")
    write_rows(vendor_rates, deck)

    # RA-12 by hand: London's Northwind calls to it in the accounts' September (London time), at each call's plan
    assignments: dict[tuple[str, str], dict[str, str]] = {}
    for row in _rows(paths, "catalog", "plan_assignments.csv"):  # a later delivery of a row replaces it
        assignments[row["account_id"], row["valid_from"]] = row
    september = (datetime(2026, 9, 1, tzinfo=LONDON), datetime(2026, 10, 1, tzinfo=LONDON))
    margin: dict[str, dict[str, Decimal]] = {}
    for c in answered:
        if c["route_id"] != ROUTE or c["prefix"] != destination:
            continue
        if not september[0] <= c["answer_at"] < september[1]:
            continue
        day = c["answer_at"].replace(tzinfo=None)
        plan = next(
            (a["rate_plan_id"] for (account, _), a in assignments.items()
             if account == c["account_id"] and datetime.fromisoformat(a["valid_from"]) <= day
             and (not a["valid_to"] or day < datetime.fromisoformat(a["valid_to"]))),
            None,
        )  # fmt: skip
        if plan is None:
            continue
        (rate_row,) = [r for r in catalog if r["rate_plan_id"] == plan and r["prefix"] == destination]
        (deck_row,) = [r for r in deck if r["rate_plan_id"] == nw_plan and r["prefix"] == destination]
        totals = margin.setdefault(f"{plan}|{destination}|{rate_row['valid_from']}|{ROUTE}|{NW}|{destination}",
                                   {"revenue": Decimal(0), "cost": Decimal(0), "calls": Decimal(0)})  # fmt: skip
        totals["revenue"] += _price(c["billable_seconds"], rate_row, plans[plan])
        totals["cost"] += _price(c["billable_seconds"], deck_row, nw_deck_plan)
        totals["calls"] += 1

    # the vendor's line for it, at the old rate, against our cost at the new one (every Northwind route, UTC month)
    (deck_row,) = [r for r in deck if r["rate_plan_id"] == nw_plan and r["prefix"] == destination]
    utc_september = (
        datetime(2026, 9, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),
        datetime(2026, 10, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),
    )
    carried = [
        c for c in answered if c["prefix"] == destination and utc_september[0] <= c["answer_at"] < utc_september[1]
    ]
    repriced = sum((_price(c["billable_seconds"], deck_row, nw_deck_plan) for c in carried), Decimal(0))

    def ref(line: dict[str, str]) -> str:
        return f"{line['vendor_invoice_number']}|{line['line_number']}"

    def biggest(vendor: str, skip: set[str]) -> list[dict[str, str]]:
        mine = [li for li in lines if li["vendor_id"] == vendor and li["prefix"] not in skip]
        return sorted(mine, key=lambda li: (-Decimal(li["amount"]), li["line_number"]))

    expected: dict[tuple[str, str], dict] = {}
    (p_line,) = [li for li in lines if li["vendor_id"] == NW and li["prefix"] == destination]
    expected["vendor_underbilled", ref(p_line)] = _want(repriced, Decimal(p_line["amount"]), Decimal(0), "none")

    overcharged = biggest(NW, {destination, "4477"})[0]
    was = Decimal(overcharged["amount"])
    overcharged["amount"] = format((was * Decimal("1.5")).quantize(Decimal("0.000001"), ROUND_HALF_UP), "f")
    expected["vendor_overbilled", ref(overcharged)] = {
        "expected": was, "billed": Decimal(overcharged["amount"]),
        "leakage": Decimal(overcharged["amount"]) - was, "direction": "cost",
    }  # fmt: skip

    inflated, copied, short = biggest(ATLAS, set())[:3]
    was = Decimal(inflated["amount"])
    inflated["minutes"] = format(Decimal(inflated["minutes"]) + 100, "f")
    inflated["amount"] = format(was + Decimal("3.141593"), "f")
    expected["vendor_overbilled", ref(inflated)] = _want(was, was + Decimal("3.141593"), Decimal("3.141593"), "cost")

    was = Decimal(short["amount"])
    short["amount"] = format(was - 1, "f")
    expected["vendor_underbilled", ref(short)] = _want(was, was - 1, Decimal(0), "none")

    atlas_invoice = copied["vendor_invoice_number"]
    last = max(int(li["line_number"]) for li in lines if li["vendor_invoice_number"] == atlas_invoice)
    copy = dict(copied, line_number=str(last + 1))
    unreadable = dict(copied, line_number=str(last + 2), prefix="99999", amount="3.5O")
    lines += [copy, unreadable]
    expected["vendor_duplicate_line", ref(copy)] = _want(
        Decimal(0), Decimal(copy["amount"]), Decimal(copy["amount"]), "cost"
    )
    expected["vendor_line_unreadable", ref(unreadable)] = _want(None, Decimal(0), Decimal(0), "none")

    nw_invoice = p_line["vendor_invoice_number"]
    billed_prefixes = {li["prefix"] for li in lines if li["vendor_id"] == NW}
    called = {c["prefix"] for c in answered}
    phantom_prefix = min(p for p in deck_prefixes if p not in billed_prefixes and p not in called)
    last = max(int(li["line_number"]) for li in lines if li["vendor_invoice_number"] == nw_invoice)
    phantom = dict(p_line, line_number=str(last + 1), prefix=phantom_prefix, destination="phantom", calls="7",
                   minutes="20.00", amount="12.345678")  # fmt: skip
    lines.append(phantom)
    expected["vendor_line_unmatched", ref(phantom)] = _want(
        Decimal(0), Decimal("12.345678"), Decimal("12.345678"), "cost"
    )
    write_rows(invoice_path, lines, fields)
    SCENARIO.update(destination=destination, margin=margin, vendor=expected, lines=len(lines))


@pytest.fixture(scope="module")
def world():
    # TOLLHOUSE_KEEP_WORLD=1 keeps it, to iterate on the SQL with dbt against it
    with operator_month(_mutate) as (paths, results):
        assert all(result.success for result in results.values()), results
        yield paths


def test_vendor_invoice_mutations_are_found_with_their_hand_worked_values(world):
    got = {(f["finding_type"], f["subject"]): f for f in findings(world, "control_id = 'RA-25'")}
    assert set(got) == set(SCENARIO["vendor"])  # the clean lines give no finding
    for key, want in SCENARIO["vendor"].items():
        finding = got[key]
        assert finding["expected_amount"] == want["expected"], key
        assert finding["billed_amount"] == want["billed"], key
        assert finding["leakage_amount"] == want["leakage"], key
        assert finding["direction"] == want["direction"], key
        assert finding["account_id"] is None and finding["billing_period"] == date(2026, 9, 1), key
        assert finding["leakage_area"] == "cost", key


def test_overbilled_lines_carry_the_calls_we_costed_as_evidence(world):
    for finding in findings(world, "control_id = 'RA-25' and finding_type = 'vendor_overbilled'"):
        assert finding["evidence_calls"] > 0 and 0 < len(finding["evidence_call_ids"]) <= 100


def test_a_route_made_loss_making_by_its_vendor_rate_is_found_with_the_hand_worked_loss(world):
    destination = SCENARIO["destination"]
    got = {
        f["subject"]: f
        for f in findings(world, "control_id = 'RA-12' and subject like ?", [f"%|{ROUTE}|{NW}|{destination}"])
    }
    want = SCENARIO["margin"]
    assert want and set(got) == set(want)
    for subject, totals in want.items():
        finding = got[subject]
        assert finding["expected_amount"] == totals["revenue"], subject
        assert finding["billed_amount"] == totals["cost"], subject
        assert finding["leakage_amount"] == totals["cost"] - totals["revenue"] > 0, subject
        assert finding["evidence_calls"] == totals["calls"], subject
        assert (finding["direction"], finding["currency"], finding["billing_period"]) == (
            "cost",
            "GBP",
            date(2026, 9, 1),
        )


def test_negative_margin_finds_only_the_changed_rate_and_the_simulators_own(world):
    """Clean world: the only losing destinations are the changed one and the two the simulator prices at a loss
    on purpose (Northwind's 4477 above retail, DE-FLEX-EUR's 4930 keyed in at a tenth)."""
    subjects = {f["subject"] for f in findings(world, "control_id = 'RA-12'")}
    assert subjects
    for subject in subjects:
        plan, prefix, _valid_from, _route, _vendor, vendor_prefix = subject.split("|")
        assert vendor_prefix in (SCENARIO["destination"], "4477") or (plan, prefix) == ("DE-FLEX-EUR", "4930"), subject


def test_coverage_counts_the_vendor_lines_checked(world):
    from orchestration.warehouse import connect

    with connect(world.warehouse, read_only=True) as con:
        (checked, covered) = con.execute(
            "select items_checked, is_covered from marts.rpt_control_coverage where control_id = 'RA-25'"
        ).fetchone()
    assert checked == SCENARIO["lines"] and covered


def test_cost_families_change_the_landed_invoices_as_their_ground_truth_says(tmp_path):
    """Every family of leakage/cost.py leaves one leak per vendor invoice, named by `<invoice>|<line>`, whose billed
    amount is the landed line's: raised lines, a copy of another line, a line for a destination no call of the
    month reached (ground_truth/vendor_calls.parquet: what the vendors bill)."""
    from tests.worlds import SEPTEMBER
    from tools.simulator import SimulationConfig, simulate
    from tools.simulator.leakage.cost import FAMILIES

    config = SimulationConfig(seed=7, start=SEPTEMBER, months=1, accounts=12, calls_per_day=150, out=tmp_path,
                              inject_faults=False, leakage="all")  # fmt: skip
    simulate(config)
    paths = Paths(tmp_path)
    leaks = [r for r in read_rows(paths.ground_truth / "leaks.csv") if r["family"].startswith("vendor_")]
    assert {(f.name, f.mix) for f in FAMILIES} == {(r["family"], r["mix"]) for r in leaks}
    assert {f.mix for f in FAMILIES} == {"training", "holdout"}
    (invoice_path,) = landed(paths, "vendor", "vendor_invoices.csv")
    lines = {f"{li['vendor_invoice_number']}|{li['line_number']}": li for li in read_rows(invoice_path)}
    carried = pq.read_table(paths.ground_truth / "vendor_calls.parquet").to_pylist()
    used = {(c["vendor_id"], c["prefix"]) for c in carried}
    for leak in leaks:
        line = lines[leak["subject"]]
        assert (leak["subject_kind"], leak["area"], leak["direction"]) == ("vendor_invoice", "cost", "cost")
        assert (leak["currency"], leak["billing_period"]) == (line["currency"], line["billing_period"])
        billed, expected = Decimal(leak["billed_amount"]), Decimal(leak["expected_amount"])
        assert billed == Decimal(line["amount"]) and Decimal(leak["leakage_amount"]) == billed - expected > 0
        if leak["family"] == "vendor_duplicate_line":
            same = [li for li in lines.values() if {**li, "line_number": ""} == {**line, "line_number": ""}]
            assert len(same) == 2 and expected == 0
        if leak["family"] == "vendor_phantom_destination":
            assert (line["vendor_id"], line["prefix"]) not in used and expected == 0
    per_invoice = {(r["family"], r["subject"].split("|")[0]) for r in leaks}
    assert len(per_invoice) == len(leaks)  # one line per family and invoice


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["VND-A", "VND-B"]),
            st.sampled_from(["1", "44", "4477", "49"]),
            st.integers(1, 7200),
            st.integers(0, 10**8),
            st.sampled_from([date(2026, 8, 1), date(2026, 9, 1)]),
        ),
        max_size=40,
    )
)
def test_invoice_lines_conserve_the_calls_they_bill(calls):
    """Whatever calls a vendor carried, its month's lines count every call once, sum every cost and every
    second (minutes half up to the cent), one line per destination, numbered from 1 per invoice."""
    import pyarrow as pa

    from tools.simulator.vendor_invoices import invoice_lines

    table = pa.table(
        {
            "call_id": pa.array(range(1, len(calls) + 1), pa.int64()),
            "vendor_id": pa.array([c[0] for c in calls], pa.string()),
            "currency": pa.array(["GBP"] * len(calls), pa.string()),
            "period": pa.array([c[4] for c in calls], pa.date32()),
            "prefix": pa.array([c[1] for c in calls], pa.string()),
            "destination": pa.array([f"d{c[1]}" for c in calls], pa.string()),
            "seconds": pa.array([c[2] for c in calls], pa.int64()),
            "cost": pa.array([Decimal(c[3]).scaleb(-6) for c in calls], pa.decimal128(18, 6)),
        }
    )
    lines = invoice_lines(table, date(2026, 9, 1))
    mine = [c for c in calls if c[4] == date(2026, 9, 1)]
    assert sum(int(li[7]) for li in lines) == len(mine)
    assert sum(Decimal(li[9]) for li in lines) == sum(Decimal(c[3]).scaleb(-6) for c in mine)
    assert len({(li[2], li[5]) for li in lines}) == len(lines)
    for li in lines:
        seconds = sum(c[2] for c in mine if (c[0], c[1]) == (li[2], li[5]))
        assert Decimal(li[8]) == (Decimal(seconds) / 60).quantize(Decimal("0.01"), ROUND_HALF_UP)
    for invoice in {li[0] for li in lines}:
        numbers = sorted(int(li[1]) for li in lines if li[0] == invoice)
        assert numbers == list(range(1, len(numbers) + 1))
