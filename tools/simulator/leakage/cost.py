"""Leakage families on the vendors' invoices (vendor/<day>/vendor_invoices.csv): a vendor bills the operator
more than the traffic it carried, at its own deck, is worth. RA-25 (docs/assurance.md) must find each.

training: `vendor_rate_overcharge` (a destination's line billed at a higher rate: its amount raised, calls and
minutes as carried); holdout: `vendor_minutes_inflated` (a line's minutes and amount raised by the same
factor), `vendor_duplicate_line` (a line billed again at the end of the invoice), `vendor_phantom_destination`
(a line for a destination of the vendor's deck it carried none of the operator's calls to that month, priced
at the deck's rate).

Each leak is one line of one vendor invoice, per vendor and month: subject `<vendor_invoice_number>|<line>`,
direction cost, valued at the money billed above what the carried calls cost (the whole line for a copy or a
phantom). Only lines worth at least MIN_AMOUNT are changed, so a leak is never within the control's rounding
tolerance.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tools.simulator.leakage.families import Context, Family, LeakRow
from tools.simulator.output import RefFile
from tools.simulator.vendor_invoices import invoice_lines

MIN_AMOUNT = Decimal("1.00")
AMOUNT = Decimal("0.000001")
MINUTE_CENT = Decimal("0.01")
RATE_FACTORS = (Decimal("1.10"), Decimal("1.25"), Decimal("1.50"))
MINUTE_FACTORS = (Decimal("1.08"), Decimal("1.15"), Decimal("1.30"))


@dataclass
class VendorInvoiceFile:
    """One landed vendor_invoices.csv, read to change and written back with `save`."""

    path: Path
    rel: str  # relative to landing/
    fields: list[str]
    lines: list[dict[str, str]]

    def save(self) -> None:
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.lines)

    def invoices(self) -> list[str]:
        return sorted({line["vendor_invoice_number"] for line in self.lines})

    def next_line(self, invoice: str) -> str:
        return str(max(int(li["line_number"]) for li in self.lines if li["vendor_invoice_number"] == invoice) + 1)


SETTLED = "vendor_invoices:settled"  # a claims entry: the invoices were billed off the calls families lost


def _gone(ctx: Context, rel: str, key: str, texts: dict[str, bytes]) -> bool:
    """True when the record `key` of a call first landed in `rel` is in no landed copy of that file any more
    (the file removed, emptied, or the record cut out of it); a file moved to another day still has it."""
    if rel not in texts:
        source, _day, name = rel.split("/", 2)
        data = b""
        for path in sorted((ctx.landing / source).glob(f"*/{name.removesuffix('.gz')}*")):
            raw = path.read_bytes()
            data += gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        texts[rel] = data
    return key.encode() not in texts[rel]


def _settle(ctx: Context) -> None:
    """Bill off the vendors' invoices the calls an earlier family made mediation lose (a switch file that never
    arrived, a trunk's records cut out): the simulated vendors bill what mediation passes on, as the billing
    system does, so a capture loss is counted once, by the capture controls, not as a vendor's over-billing."""
    if SETTLED in ctx.claims.files:
        return
    ctx.claims.files.add(SETTLED)
    truth = ctx.ground_truth / "vendor_calls.parquet"
    if not truth.exists() or not ctx.claims.calls:
        return
    carried = pq.read_table(truth)
    claimed = pa.array(sorted(ctx.claims.calls), pa.int64())
    suspects = pq.read_table(ctx.ground_truth / "calls.parquet", columns=["call_id", "file", "record_key"])
    suspects = suspects.filter(pc.is_in(suspects["call_id"], claimed))
    suspects = suspects.filter(pc.is_in(suspects["call_id"], carried["call_id"]))
    texts: dict[str, bytes] = {}
    lost = [
        row["call_id"]
        for row in suspects.to_pylist()
        if row["file"] is not None and row["record_key"] and row["file"] in ctx.claims.files
        and _gone(ctx, str(row["file"]), row["record_key"], texts)
    ]  # fmt: skip
    if not lost:
        return
    kept = carried.filter(pc.invert(pc.is_in(carried["call_id"], pa.array(lost, pa.int64()))))
    for path in sorted(ctx.landing.glob("vendor/*/vendor_invoices.csv")):
        rel = path.relative_to(ctx.landing).as_posix()
        with path.open(newline="", encoding="utf-8") as handle:
            periods = sorted({row["billing_period"] for row in csv.DictReader(handle)})
        if len(periods) == 1 and rel not in ctx.claims.files:
            path.write_bytes(RefFile("vendor", date.fromisoformat(rel.split("/")[1]), "vendor_invoices",
                                     invoice_lines(kept, date.fromisoformat(periods[0]))).to_bytes())  # fmt: skip


def invoice_files(ctx: Context) -> list[VendorInvoiceFile]:
    _settle(ctx)
    out = []
    for path in sorted(ctx.landing.glob("vendor/*/vendor_invoices.csv")):
        rel = path.relative_to(ctx.landing).as_posix()
        if rel in ctx.claims.files:  # another family took the whole file
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            out.append(VendorInvoiceFile(path, rel, list(reader.fieldnames or []), list(reader)))
    return out


def _key(f: VendorInvoiceFile, line: dict[str, str]) -> str:
    return f"{f.rel}#{line['vendor_invoice_number']}|{line['line_number']}"


def _pick(ctx: Context, f: VendorInvoiceFile, invoice: str) -> dict[str, str] | None:
    """A line of `invoice` worth at least MIN_AMOUNT that no family changed yet, at random."""
    pool = [
        li for li in f.lines
        if li["vendor_invoice_number"] == invoice and Decimal(li["amount"]) >= MIN_AMOUNT
        and _key(f, li) not in ctx.claims.files
    ]  # fmt: skip
    if not pool:
        return None
    line = pool[int(ctx.rng.integers(len(pool)))]
    ctx.claims.files.add(_key(f, line))
    return line


def _row(name: str, mix: str, line: dict[str, str], expected: Decimal, billed: Decimal, detail: str) -> LeakRow:
    return LeakRow(
        family=name, mix=mix, area="cost", account_id="", billing_period=line["billing_period"],
        currency=line["currency"], subject_kind="vendor_invoice",
        subject=f"{line['vendor_invoice_number']}|{line['line_number']}", expected=expected, billed=billed,
        direction="cost", detail=detail,
    )  # fmt: skip


def _per_invoice(change: Callable[[Context, VendorInvoiceFile, str], LeakRow | None]) -> Callable:
    """A family that changes one line (or adds one) on every vendor invoice landed."""

    def apply(ctx: Context) -> list[LeakRow]:
        rows = []
        for f in invoice_files(ctx):
            found = [row for invoice in f.invoices() if (row := change(ctx, f, invoice)) is not None]
            if found:
                f.save()
                rows += found
        return rows

    return apply


def _rate_overcharge(ctx: Context, f: VendorInvoiceFile, invoice: str) -> LeakRow | None:
    line = _pick(ctx, f, invoice)
    if line is None:
        return None
    factor = RATE_FACTORS[int(ctx.rng.integers(len(RATE_FACTORS)))]
    was = Decimal(line["amount"])
    line["amount"] = format((was * factor).quantize(AMOUNT, ROUND_HALF_UP), "f")
    return _row("vendor_rate_overcharge", "training", line, was, Decimal(line["amount"]),
                f"{line['prefix']} billed at {factor}x its deck rate")  # fmt: skip


def _minutes_inflated(ctx: Context, f: VendorInvoiceFile, invoice: str) -> LeakRow | None:
    line = _pick(ctx, f, invoice)
    if line is None:
        return None
    factor = MINUTE_FACTORS[int(ctx.rng.integers(len(MINUTE_FACTORS)))]
    was_minutes, was = Decimal(line["minutes"]), Decimal(line["amount"])
    line["minutes"] = format((was_minutes * factor).quantize(MINUTE_CENT, ROUND_HALF_UP), "f")
    line["amount"] = format((was * factor).quantize(AMOUNT, ROUND_HALF_UP), "f")
    return _row("vendor_minutes_inflated", "holdout", line, was, Decimal(line["amount"]),
                f"{line['prefix']}: minutes {was_minutes} billed as {line['minutes']}")  # fmt: skip


def _duplicate_line(ctx: Context, f: VendorInvoiceFile, invoice: str) -> LeakRow | None:
    line = _pick(ctx, f, invoice)
    if line is None:
        return None
    copy = dict(line, line_number=f.next_line(invoice))
    f.lines.append(copy)
    ctx.claims.files.add(_key(f, copy))
    return _row("vendor_duplicate_line", "holdout", copy, Decimal(0), Decimal(copy["amount"]),
                f"line {line['line_number']} ({line['prefix']}) billed again")  # fmt: skip


def _deck_rates(landing: Path) -> dict[str, dict[str, tuple[str, Decimal]]]:
    """vendor_id -> prefix -> (destination, rate per minute of its first slot), from the landed decks."""
    plan_of: dict[str, str] = {}
    for path in sorted(landing.glob("vendor/*/vendors.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            plan_of |= {row["vendor_id"]: row["rate_plan_id"] for row in csv.DictReader(handle)}
    by_plan: dict[str, dict[str, tuple[str, Decimal]]] = {}
    for path in sorted(landing.glob("vendor/*/rates.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["group_start_s"] == "0" and row["rate_unit_s"] == "60":
                    by_plan.setdefault(row["rate_plan_id"], {})[row["prefix"]] = (
                        row["destination"],
                        Decimal(row["rate"]),
                    )
    return {vendor: by_plan.get(plan, {}) for vendor, plan in plan_of.items()}


def _phantom_destination(ctx: Context, f: VendorInvoiceFile, invoice: str) -> LeakRow | None:
    mine = [li for li in f.lines if li["vendor_invoice_number"] == invoice]
    if not mine:
        return None
    first = mine[0]
    deck = _deck_rates(ctx.landing).get(first["vendor_id"], {})
    billed = {li["prefix"] for li in mine}
    unused = sorted(p for p in deck if p not in billed)
    if not unused:
        return None
    prefix = unused[int(ctx.rng.integers(len(unused)))]
    destination, rate = deck[prefix]
    calls = int(ctx.rng.integers(20, 60))
    minutes = (Decimal(calls) * Decimal(int(ctx.rng.integers(150, 400))) / 100).quantize(MINUTE_CENT)
    amount = max((minutes * rate).quantize(AMOUNT, ROUND_HALF_UP), MIN_AMOUNT)
    line = dict(first, line_number=f.next_line(invoice), prefix=prefix, destination=destination, calls=str(calls),
                minutes=format(minutes, "f"), amount=format(amount, "f"))  # fmt: skip
    f.lines.append(line)
    ctx.claims.files.add(_key(f, line))
    return _row("vendor_phantom_destination", "holdout", line, Decimal(0), amount,
                f"{prefix} ({destination}) billed with no traffic carried to it")  # fmt: skip


FAMILIES: list[Family] = [
    Family("vendor_rate_overcharge", "training", "cost", _per_invoice(_rate_overcharge),
           "a vendor invoice line billed at a higher rate than the vendor's deck"),
    Family("vendor_minutes_inflated", "holdout", "cost", _per_invoice(_minutes_inflated),
           "a vendor invoice line's minutes and amount raised"),
    Family("vendor_duplicate_line", "holdout", "cost", _per_invoice(_duplicate_line),
           "a vendor invoice line billed twice"),
    Family("vendor_phantom_destination", "holdout", "cost", _per_invoice(_phantom_destination),
           "a vendor invoice line for a destination with no traffic"),
]  # fmt: skip
