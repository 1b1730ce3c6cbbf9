"""The vendors' invoices: what each termination vendor bills the operator per month and destination.

A vendor bills the calls it carried: every answered outbound call with connected seconds that left by one of
its routes, in the UTC calendar month of the answer, priced at its own cost deck (the landed vendor decks) with
the rating SQL of `tollhouse rate` (the tariff contract's reference implementation, as the billing system's
prices are). Calls mediation never passes on (a rejected line, a call held in suspense) are left off, as the
billing system leaves them off: that loss is the usage-capture controls' to find, not the vendor's error. So a
clean world's vendor invoices reconcile to zero against tollhouse's vendor cost (RA-25, docs/assurance.md).

One line per vendor deck prefix the month's calls matched: calls, minutes (connected seconds / 60, half up to
the cent of a minute) and amount (the per-call costs summed, at the deck's decimals). One invoice per vendor and
month, `VI-<vendor>-<YYYYMM>`, landed as vendor/<1st of the next month>/vendor_invoices.csv.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tools.simulator.output import RefFile
from tools.simulator.tariffs import ROUTES, VENDOR_PLANS
from tools.simulator.timeline import add_months
from tools.simulator.traffic import ANSWERED, INBOUND, Calls

TARIFF_ENTITIES = ("rate_plans", "rates", "time_bands", "holidays")
MINUTE_CENT = Decimal("0.01")


@dataclass
class VendorPriced:
    """Per carried call (true call index `call`): vendor, deck prefix, UTC month, connected seconds, cost."""

    table: pa.Table
    destinations: dict[tuple[str, str], str]  # (deck plan, prefix) -> destination name


def invoice_number(vendor_id: str, period: date) -> str:
    return f"VI-{vendor_id.removeprefix('VND-')}-{period:%Y%m}"


def price_vendor_calls(calls: Calls, vendor_landing: Path) -> VendorPriced:
    """Every call a vendor carried priced at its deck. Needs only the landed vendor decks: the simulator runs
    it beside the rendering of the switch files."""
    from orchestration.rating.what_if import rate_against_catalog

    _, answer, end = calls.seconds()
    carried = np.flatnonzero((calls.call_type != INBOUND) & (calls.disposition == ANSWERED) & (answer >= 0)
                             & (end > answer))  # fmt: skip
    vendor_of_route = np.array([[v for v, *_ in VENDOR_PLANS].index(r[1]) for r in ROUTES], np.int64)
    vendor_index = vendor_of_route[calls.route[carried].astype(np.int64)]
    plan_ids = pa.array([p.plan_id for *_, p in VENDOR_PLANS], pa.string())
    requests = pa.table(
        {
            "call_id": pa.array(carried + 1),
            "rate_plan_id": plan_ids.take(pa.array(vendor_index)),
            "account_id": pa.nulls(len(carried), pa.string()),
            "b_number": pc.cast(pa.array(calls.b_number[carried]), pa.string()),
            "answer_at": pc.strftime(
                pa.array(answer[carried] * 1_000_000, pa.timestamp("us", tz="UTC")), "%Y-%m-%dT%H:%M:%SZ"
            ),
            "billable_seconds": pa.array((end - answer)[carried]),
        }
    )
    with tempfile.TemporaryDirectory(prefix="tollhouse-vendor-decks-") as tmp:
        decks = _deck_folder(vendor_landing, Path(tmp))
        rated = rate_against_catalog(decks, requests)
        destinations = _destinations(decks)
    table = pa.table(
        {
            "call": pa.array(carried),
            "vendor_index": pa.array(vendor_index),
            "rate_plan_id": requests["rate_plan_id"],
            "answer_s": pa.array(answer[carried]),
            "seconds": requests["billable_seconds"],
            "prefix": rated["matched_prefix"],
            "cost": rated["cost"],
        }
    )
    return VendorPriced(table, destinations)


def _deck_folder(vendor_landing: Path, out: Path) -> Path:
    """The vendor decks' tariff files alone, per delivery day (the catalog layout the rating tool ingests)."""
    for day in sorted(d for d in vendor_landing.iterdir() if d.is_dir()):
        for entity in TARIFF_ENTITIES:
            source = day / f"{entity}.csv"
            if source.is_file():
                (out / day.name).mkdir(parents=True, exist_ok=True)
                shutil.copy(source, out / day.name / source.name)
    return out


def _destinations(decks: Path) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    for path in sorted(decks.glob("*/rates.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                names.setdefault((row["rate_plan_id"], row["prefix"]), row["destination"])
    return names


def carried_calls(priced: VendorPriced, lost: np.ndarray) -> pa.Table:
    """The calls the vendors bill (true `call_id`, vendor, currency, UTC month, deck prefix and destination,
    connected seconds, cost): every priced call but those mediation never passes on (`lost`, per true call).
    Kept as ground_truth/vendor_calls.parquet, so a leakage family that loses calls can bill them off again."""
    table = priced.table.filter(pc.invert(pa.array(lost[priced.table["call"].to_numpy()])))
    con = duckdb.connect()
    con.register("carried", table)
    con.register("vendors", pa.table({"vendor_index": list(range(len(VENDOR_PLANS))),
                                      "vendor_id": [v for v, *_ in VENDOR_PLANS],
                                      "currency": [c for _, _, c, _ in VENDOR_PLANS]}))  # fmt: skip
    con.register("names", pa.table({"rate_plan_id": [k[0] for k in priced.destinations],
                                    "prefix": [k[1] for k in priced.destinations],
                                    "destination": list(priced.destinations.values())}))  # fmt: skip
    out = con.execute(
        """select c.call + 1 as call_id, v.vendor_id, v.currency,
                  cast(date_trunc('month', to_timestamp(c.answer_s) at time zone 'UTC') as date) as period,
                  c.prefix, coalesce(n.destination, '') as destination, c.seconds, c.cost
           from carried c join vendors v using (vendor_index)
           left join names n on n.rate_plan_id = c.rate_plan_id and n.prefix = c.prefix
           where c.cost is not null and c.prefix <> ''
           order by call_id"""
    ).to_arrow_table()
    con.close()
    return out


def invoice_lines(carried: pa.Table, period: date) -> list[tuple]:
    """The month's lines of every vendor's invoice, in the layout's columns: one per deck prefix, numbered
    from 1 per invoice; minutes are the connected seconds / 60, half up to the cent of a minute."""
    con = duckdb.connect()
    con.register("carried", carried)
    rows = con.execute(
        """select vendor_id, currency, prefix, min(destination), count(*), sum(seconds), sum(cost)
           from carried where period = ? group by vendor_id, currency, prefix order by vendor_id, prefix""",
        [period],
    ).fetchall()
    con.close()
    lines, numbers = [], {}
    for vendor_id, currency, prefix, destination, n, seconds, amount in rows:
        number = invoice_number(vendor_id, period)
        numbers[number] = numbers.get(number, 0) + 1
        minutes = (Decimal(int(seconds)) / 60).quantize(MINUTE_CENT, ROUND_HALF_UP)
        lines.append((number, str(numbers[number]), vendor_id, period.isoformat(), currency, prefix, destination,
                      str(n), format(minutes, "f"), format(amount, "f")))  # fmt: skip
    return lines


def invoice_periods(months: list[date], last_day: date) -> list[date]:
    """The months whose invoices (issued on the 1st of the next month) are delivered by `last_day`."""
    return [m for m in months if add_months(m, 1) <= last_day]


def vendor_invoice_files(carried: pa.Table, periods: list[date]) -> list[RefFile]:
    """One vendor_invoices.csv per month of `periods`, issued on the 1st of the next month."""
    return [RefFile("vendor", add_months(p, 1), "vendor_invoices", invoice_lines(carried, p)) for p in periods]
