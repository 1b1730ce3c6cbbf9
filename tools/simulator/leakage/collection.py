"""Leakage families of payments (revenue assurance RA-23, docs/assurance.md).

Each family changes the landed payments files (payments/<day>/payments.csv) after the simulator wrote them,
on an account no earlier family claimed, and only a payment that names its own invoice and pays it in full
(so the fault is the family's alone):

- `payment_to_other_customer` (training): the payment's invoice number re-pointed at another account's
  invoice of the same period and currency: misapplied cash, the payment's amount.
- `overpayment` (training): the payment's amount raised by a few units: over-collected, the excess.
- `unapplied_cash` (holdout): the payment's invoice number changed to one the billing system never issued:
  unapplied cash, the payment's amount.
- `duplicate_payment` (holdout): the same payment received again a day later under a new id: over-collected,
  the copy's amount (subject: the copy's payment id).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from tools.simulator.leakage.families import Context, Family, LeakRow, read_csv, write_csv
from tools.simulator.leakage.invoices import landed_invoices
from tools.simulator.output import dec


def _paid_in_full(ctx: Context) -> list[tuple[Path, dict[str, str], dict[str, str]]]:
    """(payments file, payment row, invoice header) of every payment naming its own invoice for its total,
    on an unclaimed account whose invoice no other payment names, in (file, payment id) order."""
    headers = {i.number: i.row for i in landed_invoices(ctx.landing, ctx.claims.files)}
    found: list[tuple[Path, dict[str, str], dict[str, str]]] = []
    named: dict[str, int] = {}
    for path in sorted(ctx.landing.glob("payments/*/payments.csv")):
        if path.relative_to(ctx.landing).as_posix() in ctx.claims.files:
            continue
        for row in read_csv(path)[1]:
            named[row["invoice_number"]] = named.get(row["invoice_number"], 0) + 1
            header = headers.get(row["invoice_number"])
            if (
                header is not None
                and header["account_id"] == row["account_id"]
                and header["currency"] == row["currency"]
                and row["amount"] == header["total_amount"]
            ):
                found.append((path, row, header))
    return [f for f in found if named[f[1]["invoice_number"]] == 1 and f[1]["account_id"] not in ctx.claims.accounts]


def _set(path: Path, payment_id: str, **values: str) -> None:
    names, rows = read_csv(path)
    for row in rows:
        if row["payment_id"] == payment_id:
            row.update(values)
    write_csv(path, names, rows)


def _leak(
    family: str,
    mix: str,
    payment: dict[str, str],
    header: dict[str, str],
    expected: Decimal,
    billed: Decimal,
    direction: str,
    detail: str,
    subject: str | None = None,
) -> LeakRow:
    return LeakRow(
        family,
        mix,
        "collection",
        payment["account_id"],
        header["billing_period"],
        payment["currency"],
        "payment",
        subject or payment["payment_id"],
        expected,
        billed,
        direction,
        detail,
    )


def _pick(ctx: Context, candidates: list) -> tuple | None:
    return candidates[int(ctx.rng.integers(len(candidates)))] if candidates else None


def _payment_to_other_customer(ctx: Context) -> list[LeakRow]:
    candidates = _paid_in_full(ctx)
    invoices = landed_invoices(ctx.landing, ctx.claims.files)
    pairs = [
        (path, row, header, other.row)
        for path, row, header in candidates
        for other in invoices
        if other.row["account_id"] != row["account_id"]
        and other.row["account_id"] not in ctx.claims.accounts
        and other.row["billing_period"] == header["billing_period"]
        and other.row["currency"] == row["currency"]
    ]
    picked = _pick(ctx, pairs)
    if picked is None:
        return []
    path, row, header, other = picked
    _set(path, row["payment_id"], invoice_number=other["invoice_number"])
    ctx.claims.accounts.update({row["account_id"], other["account_id"]})
    amount = Decimal(row["amount"])
    return [
        _leak(
            "payment_to_other_customer",
            "training",
            row,
            header,
            amount,
            Decimal(0),
            "collection",
            f"{row['payment_id']} for {header['invoice_number']} applied to {other['invoice_number']} "
            f"of {other['account_id']}",
        ),
        # the other side: an invoice showing a payment that is not its customer's (no money of its own)
        LeakRow(
            "payment_to_other_customer",
            "training",
            "collection",
            other["account_id"],
            other["billing_period"],
            other["currency"],
            "invoice",
            other["invoice_number"],
            Decimal(0),
            Decimal(0),
            "none",
            f"{other['invoice_number']} named by {row['payment_id']} of {row['account_id']}",
        ),
    ]


def _overpayment(ctx: Context) -> list[LeakRow]:
    picked = _pick(ctx, _paid_in_full(ctx))
    if picked is None:
        return []
    path, row, header = picked
    excess = Decimal(int(ctx.rng.integers(100, 5000))) / 100
    paid = Decimal(row["amount"]) + excess
    _set(path, row["payment_id"], amount=dec(paid, 2))
    ctx.claims.accounts.add(row["account_id"])
    return [
        _leak(
            "overpayment",
            "training",
            row,
            header,
            Decimal(row["amount"]),
            paid,
            "over_billing",
            f"paid {dec(paid, 2)} against {header['invoice_number']} of {header['total_amount']}",
        )
    ]


def _unapplied_cash(ctx: Context) -> list[LeakRow]:
    picked = _pick(ctx, _paid_in_full(ctx))
    if picked is None:
        return []
    path, row, header = picked
    issued = {i.number for i in landed_invoices(ctx.landing, set())}
    period = date.fromisoformat(header["billing_period"])
    wrong = next(
        n
        for k in range(1, 100)
        if (n := f"INV-{period.year - k:04d}{period.month:02d}-{row['account_id']}") not in issued
    )
    _set(path, row["payment_id"], invoice_number=wrong)
    ctx.claims.accounts.add(row["account_id"])
    amount = Decimal(row["amount"])
    return [
        _leak(
            "unapplied_cash",
            "holdout",
            row,
            header,
            Decimal(0),
            amount,
            "collection",
            f"{row['payment_id']} names {wrong}, never issued (meant for {header['invoice_number']})",
        )
    ]


def _duplicate_payment(ctx: Context) -> list[LeakRow]:
    picked = _pick(ctx, _paid_in_full(ctx))
    if picked is None:
        return []
    path, row, header = picked
    received = date.fromisoformat(row["received_date"]) + timedelta(days=1)
    target = ctx.landing / "payments" / received.isoformat() / "payments.csv"
    if not target.exists() or target.relative_to(ctx.landing).as_posix() in ctx.claims.files:
        target, received = path, date.fromisoformat(row["received_date"])
    ids = [r["payment_id"] for p in ctx.landing.glob("payments/*/payments.csv") for r in read_csv(p)[1]]
    copy_id = f"PAY-D{len(ids) + 1:05d}"  # sorts after every PAY-<digits> id, so it is the later copy
    names, rows = read_csv(target)
    rows.append({**row, "payment_id": copy_id, "received_date": received.isoformat()})
    write_csv(target, names, rows)
    ctx.claims.accounts.add(row["account_id"])
    amount = Decimal(row["amount"])
    return [
        _leak(
            "duplicate_payment",
            "holdout",
            row,
            header,
            Decimal(0),
            amount,
            "over_billing",
            f"{row['payment_id']} received again on {received} as {copy_id}",
            subject=copy_id,
        )
    ]


FAMILIES: list[Family] = [
    Family(
        "payment_to_other_customer",
        "training",
        "collection",
        _payment_to_other_customer,
        "a payment's invoice number pointed at another customer's invoice",
    ),
    Family("overpayment", "training", "collection", _overpayment, "a payment above its invoice's total"),
    Family("unapplied_cash", "holdout", "collection", _unapplied_cash, "a payment naming an invoice never issued"),
    Family(
        "duplicate_payment",
        "holdout",
        "collection",
        _duplicate_payment,
        "the same payment received twice under a new id",
    ),
]
