"""Leakage families of the billing system's invoice headers (revenue assurance RA-22, docs/assurance.md).

Each family rewrites one landed invoice header (billing_export/<day>/invoices.csv) and leaves its lines as
they were, as a billing system whose header step went wrong would. A customer pays what its invoice says:
when the invoice was paid in full against its number, the payment follows the new total, so an
over-billed header that was paid is also a refund owed (recorded as a second row of the ground truth).

- `tax_miscomputed` (training): one charge type's tax at another rate (the jurisdiction's rate five points
  up or down), the total following: the header's tax is off by the difference.
- `header_not_tied` (holdout): a total that is not net + tax (a few units up or down): off by the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from tools.simulator.finance import tax_rates
from tools.simulator.leakage.bill_lines import adjust_payments
from tools.simulator.leakage.families import Context, Family, LeakRow, read_csv, write_csv
from tools.simulator.numbering import HOME_COUNTRIES
from tools.simulator.output import dec

CENT = Decimal("0.01")


@dataclass
class Invoice:
    """A landed invoice header, its file and its lines' net per charge type (rounded as the header is)."""

    path: Path
    row: dict[str, str]
    net_by_type: dict[str, Decimal]

    @property
    def number(self) -> str:
        return self.row["invoice_number"]

    @property
    def period(self) -> date:
        return date.fromisoformat(self.row["billing_period"])


def landed_invoices(landing: Path, claims_files: set[str]) -> list[Invoice]:
    """Every landed invoice header with its lines' net per charge type, in (file, invoice number) order."""
    out: list[Invoice] = []
    for path in sorted(landing.glob("billing_export/*/invoices.csv")):
        if path.relative_to(landing).as_posix() in claims_files:
            continue
        lines = path.with_name("invoice_lines.csv")
        sums: dict[str, dict[str, Decimal]] = {}
        if lines.exists():
            for line in read_csv(lines)[1]:
                by_type = sums.setdefault(line["invoice_number"], {})
                by_type[line["line_type"]] = by_type.get(line["line_type"], Decimal(0)) + Decimal(line["amount"])
        for row in read_csv(path)[1]:
            net = {t: v.quantize(CENT, ROUND_HALF_UP) for t, v in sums.get(row["invoice_number"], {}).items()}
            out.append(Invoice(path, row, net))
    return sorted(out, key=lambda i: (str(i.path), i.number))


def full_payments(landing: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    """Payments naming an invoice, by invoice number, when exactly one payment names it (path, row)."""
    seen: dict[str, list[tuple[Path, dict[str, str]]]] = {}
    for path in sorted(landing.glob("payments/*/payments.csv")):
        for row in read_csv(path)[1]:
            if row.get("invoice_number"):
                seen.setdefault(row["invoice_number"], []).append((path, row))
    return {number: found[0] for number, found in seen.items() if len(found) == 1}


def rewrite_header(invoice: Invoice, tax: Decimal, total: Decimal) -> None:
    """Set one header's tax and total in its landed file (every other row and column as it was)."""
    names, rows = read_csv(invoice.path)
    for row in rows:
        if row["invoice_number"] == invoice.number:
            row["tax_amount"], row["total_amount"] = dec(tax, 2), dec(total, 2)
    write_csv(invoice.path, names, rows)


def _pick(ctx: Context, candidates: list[Invoice]) -> Invoice | None:
    free = [i for i in candidates if i.row["account_id"] not in ctx.claims.accounts]
    if not free:
        return None
    return free[int(ctx.rng.integers(len(free)))]


def _mutate_header(
    ctx: Context, family: str, mix: str, invoice: Invoice, tax: Decimal, total: Decimal, detail: str
) -> list[LeakRow]:
    """Rewrite the header, make a full payment follow, record the leak (and the refund it makes owed)."""
    row = invoice.row
    old_tax, old_total = Decimal(row["tax_amount"]), Decimal(row["total_amount"])
    payment = full_payments(ctx.landing).get(invoice.number)
    paid_in_full = payment is not None and Decimal(payment[1]["amount"]) == old_total
    rewrite_header(invoice, tax, total)
    if paid_in_full:
        adjust_payments(ctx.landing, {invoice.number: (old_total, total)})
    ctx.claims.accounts.add(row["account_id"])
    header_gap = (old_tax - tax) if tax != old_tax else (Decimal(row["net_amount"]) + old_tax - total)
    direction = "under_billing" if header_gap > 0 else "over_billing"
    common = dict(
        account_id=row["account_id"],
        billing_period=row["billing_period"],
        currency=row["currency"],
        subject_kind="invoice",
        subject=invoice.number,
    )
    expected = old_tax if tax != old_tax else Decimal(row["net_amount"]) + old_tax
    billed = tax if tax != old_tax else total
    rows = [
        LeakRow(family, mix, "billing", expected=expected, billed=billed, direction=direction, detail=detail, **common)
    ]
    if paid_in_full and direction == "over_billing":
        rows.append(
            LeakRow(
                family,
                mix,
                "collection",
                expected=Decimal(0),
                billed=-header_gap,
                direction="none",
                detail=f"paid in full ({dec(total, 2)}): {dec(-header_gap, 2)} owed back",
                **common,
            )
        )
    return rows


def _tax_miscomputed(ctx: Context) -> list[LeakRow]:
    world = ctx.world
    country = {a: HOME_COUNTRIES[int(c)] for a, c in zip(world.accounts.ids, world.accounts.country, strict=True)}
    candidates = [
        i
        for i in landed_invoices(ctx.landing, ctx.claims.files)
        if i.row["account_id"] in country and any(v > 0 for v in i.net_by_type.values())
    ]
    invoice = _pick(ctx, candidates)
    if invoice is None:
        return []
    rates = tax_rates(country[invoice.row["account_id"]], invoice.period)
    charge_type = max((t for t, v in invoice.net_by_type.items() if v > 0), key=lambda t: invoice.net_by_type[t])
    net, rate = invoice.net_by_type[charge_type], rates.get(charge_type, Decimal(0))
    step = Decimal("0.05") if (rate < Decimal("0.05") or ctx.rng.random() < 0.5) else Decimal("-0.05")
    right = (net * rate).quantize(CENT, ROUND_HALF_UP)
    wrong = (net * (rate + step)).quantize(CENT, ROUND_HALF_UP)
    if wrong == right:
        return []
    old_tax = Decimal(invoice.row["tax_amount"])
    tax = old_tax - right + wrong
    total = Decimal(invoice.row["net_amount"]) + tax
    detail = (
        f"{charge_type} tax on {dec(net, 2)} at {rate + step} instead of {rate}: {dec(wrong, 2)} for {dec(right, 2)}"
    )
    return _mutate_header(ctx, "tax_miscomputed", "training", invoice, tax, total, detail)


def _header_not_tied(ctx: Context) -> list[LeakRow]:
    invoice = _pick(ctx, landed_invoices(ctx.landing, ctx.claims.files))
    if invoice is None:
        return []
    cents = int(ctx.rng.integers(50, 500)) * (1 if ctx.rng.random() < 0.5 else -1)
    gap = Decimal(cents) / 100
    tax = Decimal(invoice.row["tax_amount"])
    total = Decimal(invoice.row["net_amount"]) + tax + gap
    if total < 0:
        return []
    detail = f"total {dec(total, 2)} is not net {invoice.row['net_amount']} + tax {invoice.row['tax_amount']}"
    return _mutate_header(ctx, "header_not_tied", "holdout", invoice, tax, total, detail)


FAMILIES: list[Family] = [
    Family(
        "tax_miscomputed",
        "training",
        "billing",
        _tax_miscomputed,
        "an invoice header's tax for one charge type at another rate, the total following",
    ),
    Family(
        "header_not_tied",
        "holdout",
        "billing",
        _header_not_tied,
        "an invoice header whose total is not its net plus its tax",
    ),
]
