"""Leakage families of the billing system's discount lines (revenue assurance RA-26, docs/assurance.md).

The billing system applies the catalogue's promotions as `discount` lines (billing_system.py: one per promotion
and invoice, product_id naming it, a percentage of the invoice's own lines of its charge type for the days it is
valid, rounded once). Each family changes one invoice's discount lines in the landed export as a billing system
whose promotion step went wrong would; the header follows (net, tax per charge type, a discount taxed under its
promotion's, total) and a payment of the old total in full follows the new one (`rewrite_invoices`), so a
customer over-billed who paid in full is owed a refund (a second, collection row of the ground truth).

- `promotion_not_applied` (training): a discount line dropped: over-billing, the discount.
- `promotion_percent_wrong` (holdout): a discount at another percentage (five points up or down): the difference.
- `promotion_after_expiry` (holdout): a promotion of the account that expired before the period applied to its
  whole period: under-billing, the discount.
- `promotion_wrong_account` (holdout): a discount for another account's promotion on an account with none:
  under-billing, the discount.

The subject is `<invoice_number>|<promotion_id>`, as RA-26 names its findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

from tools.simulator.billing_system import landed_promotions, promotion_discount, subscription_base
from tools.simulator.leakage.bill_lines import Export, _subscriptions, exports, jurisdictions, rewrite_invoices
from tools.simulator.leakage.families import Context, Family, LeakRow
from tools.simulator.leakage.invoices import full_payments
from tools.simulator.output import dec
from tools.simulator.timeline import add_months

CENT = Decimal("0.01")
Promotion = tuple[str, str, str, Decimal, date, date | None]  # id, account, charge type, percent, from, to


def whole_period(promo: Promotion, period: date) -> bool:
    return promo[4] <= period and (promo[5] is None or promo[5] >= add_months(period, 1))


def valid_in(promo: Promotion, period: date) -> bool:
    return promo[4] < add_months(period, 1) and (promo[5] is None or promo[5] > period)


def promotion_base(
    lines: Iterable[dict[str, str]],
    promo: Promotion,
    period: date,
    subs: dict[str, dict[str, str]],
    valid: tuple[date, date | None] | None = None,
) -> Decimal | None:
    """What `promo` (valid `valid`, by default its own dates) applies to on one invoice's lines, by the rules
    of docs/billing.md with the CRM's subscription dates; None when the files cannot tell (a usage promotion
    valid part of the period needs each call's answer day)."""
    _pid, _account, charge_type, _percent, valid_from, valid_to = promo
    valid_from, valid_to = valid or (valid_from, valid_to)
    whole = valid_from <= period and (valid_to is None or valid_to >= add_months(period, 1))
    base = Decimal(0)
    for line in lines:
        if line["line_type"] != charge_type:
            continue
        amount = Decimal(line["amount"])
        if charge_type == "usage":
            if not whole:
                return None
            base += amount
            continue
        sub = subs.get(line["subscription_id"] or "")
        start = date.fromisoformat(sub["start_date"]) if sub else period
        end = date.fromisoformat(sub["end_date"]) if sub and sub["end_date"] else None
        base += subscription_base(charge_type, amount, start, end, period, (valid_from, valid_to))
    return base


def _discount_line(export: Export, number: str, promotion_id: str, amount: Decimal) -> dict[str, str]:
    """A new discount line at the end of invoice `number` (amount: the discount, positive)."""
    header = next(h for h in export.invoices if h["invoice_number"] == number)
    last = max(int(line["line_number"]) for line in export.lines if line["invoice_number"] == number)
    line = dict.fromkeys(export.line_fields, "")
    line.update(invoice_number=number, line_number=str(last + 1), account_id=header["account_id"],
                billing_period=header["billing_period"], line_type="discount", product_id=promotion_id,
                quantity="1", amount=dec(-amount, 6), currency=header["currency"])  # fmt: skip
    return line


def rediscount(landing: Path, export: Export, numbers: Iterable[str]) -> None:
    """Re-apply the catalogue's promotions to the lines of invoices `numbers` as the billing system does
    (lines changed upstream of its discount step are discounted as billed). A usage promotion valid part of
    the period keeps its line as it was."""
    promotions = landed_promotions(landing)
    subs = _subscriptions(landing)
    for number in sorted(set(numbers)):
        lines = [line for line in export.lines if line["invoice_number"] == number]
        header = next((h for h in export.invoices if h["invoice_number"] == number), None)
        if not lines or header is None:
            continue
        period = date.fromisoformat(header["billing_period"])
        charged = [line for line in lines if line["line_type"] != "discount"]
        for promo in promotions:
            if promo[1] != header["account_id"] or not valid_in(promo, period):
                continue
            base = promotion_base(charged, promo, period, subs)
            if base is None:
                continue
            amount = promotion_discount(base, promo[3])
            billed = [line for line in lines if line["line_type"] == "discount" and line["product_id"] == promo[0]]
            if billed:
                billed[0]["amount"] = dec(-amount, 6)
                drop = billed[1:] + ([billed[0]] if amount == 0 else [])
                export.lines = [line for line in export.lines if all(line is not d for d in drop)]
            elif amount != 0:
                export.lines.append(_discount_line(export, number, promo[0], amount))


def _discount_lines(ctx: Context) -> list[tuple[Export, int, dict[str, str]]]:
    """(export, line index, line) of every discount line on an account no family claimed."""
    return [
        (export, i, line)
        for export in exports(ctx.landing)
        for i, line in enumerate(export.lines)
        if line["line_type"] == "discount" and line["account_id"] not in ctx.claims.accounts
    ]


def _record(
    ctx: Context,
    export: Export,
    number: str,
    family: str,
    mix: str,
    promotion_id: str,
    expected: Decimal,
    billed: Decimal,
    detail: str,
) -> list[LeakRow]:
    """Save the changed export with its header recomputed (a full payment follows), claim the account, and
    return the leak (expected and billed: the discount) and, when over-billed and paid in full, the refund."""
    header = next(h for h in export.invoices if h["invoice_number"] == number)
    old_total = Decimal(header["total_amount"])
    payment = full_payments(ctx.landing).get(number)
    paid_in_full = payment is not None and Decimal(payment[1]["amount"]) == old_total
    changes = rewrite_invoices(ctx.landing, export, jurisdictions(ctx.world), [number], rediscount=False)
    new_total = changes[number][1] or Decimal(0)
    ctx.claims.accounts.add(header["account_id"])
    direction = "under_billing" if billed > expected else "over_billing"
    common = dict(account_id=header["account_id"], billing_period=header["billing_period"],
                  currency=header["currency"], subject_kind="invoice", subject=f"{number}|{promotion_id}")  # fmt: skip
    rows = [LeakRow(family, mix, "billing", expected=expected, billed=billed, direction=direction, detail=detail,
                    **common)]  # fmt: skip
    if paid_in_full and new_total > old_total:
        rows.append(LeakRow(family, mix, "collection", expected=Decimal(0), billed=new_total - old_total,
                            direction="none", detail=f"paid in full ({dec(new_total, 2)}): "
                            f"{dec(new_total - old_total, 2)} owed back", **common))  # fmt: skip
    return rows


def _pick(ctx: Context, candidates: list) -> object | None:
    return candidates[int(ctx.rng.integers(len(candidates)))] if candidates else None


def _promotion_not_applied(ctx: Context) -> list[LeakRow]:
    picked = _pick(ctx, _discount_lines(ctx))
    if picked is None:
        return []
    export, i, line = picked
    del export.lines[i]
    discount = -Decimal(line["amount"])
    detail = f"{line['product_id']} not applied: {dec(discount, 2)} discount dropped"
    return _record(ctx, export, line["invoice_number"], "promotion_not_applied", "training", line["product_id"],
                   discount, Decimal(0), detail)  # fmt: skip


def _promotion_percent_wrong(ctx: Context) -> list[LeakRow]:
    promotions = {p[0]: p for p in landed_promotions(ctx.landing)}
    subs = _subscriptions(ctx.landing)
    candidates = []
    for export, i, line in _discount_lines(ctx):
        promo = promotions.get(line["product_id"])
        period = date.fromisoformat(line["billing_period"])
        if promo is None or promo[1] != line["account_id"] or not whole_period(promo, period):
            continue
        own = [x for x in export.lines if x["invoice_number"] == line["invoice_number"]]
        base = promotion_base(own, promo, period, subs)
        old = -Decimal(line["amount"])
        if base is not None and promotion_discount(base, Decimal(5)) > CENT:
            candidates.append((export, i, line, promo, base, old))
    picked = _pick(ctx, candidates)
    if picked is None:
        return []
    export, i, line, promo, base, old = picked
    step = Decimal(5) if promo[3] <= 5 or ctx.rng.random() < 0.5 else Decimal(-5)
    new = promotion_discount(base, promo[3] + step)
    export.lines[i]["amount"] = dec(-new, 6)
    detail = (
        f"{promo[0]} at {promo[3] + step}% instead of {promo[3]}% of {dec(base, 2)}: {dec(new, 2)} for {dec(old, 2)}"
    )
    return _record(ctx, export, line["invoice_number"], "promotion_percent_wrong", "holdout", promo[0], old, new,
                   detail)  # fmt: skip


def _invoices(ctx: Context) -> list[tuple[Export, dict[str, str]]]:
    return [
        (export, header)
        for export in exports(ctx.landing)
        for header in export.invoices
        if header["account_id"] not in ctx.claims.accounts
    ]


def _misapplied(
    ctx: Context,
    applies: Callable[[dict[str, str], Promotion, date], bool],
    valid: Callable[[date], tuple[date, date | None]] | None = None,
) -> list[tuple[Export, dict[str, str], Promotion, Decimal]]:
    """(export, header, promotion, discount) of every unclaimed invoice and promotion that `applies` to it
    though the catalogue does not, whose discount on the invoice's lines (valid `valid(period)`, by default
    the promotion's own dates) would be more than a cent."""
    promotions = landed_promotions(ctx.landing)
    subs = _subscriptions(ctx.landing)
    candidates = []
    for export, header in _invoices(ctx):
        period = date.fromisoformat(header["billing_period"])
        own = [x for x in export.lines if x["invoice_number"] == header["invoice_number"]]
        for promo in promotions:
            if not applies(header, promo, period):
                continue
            base = promotion_base(own, promo, period, subs, valid=valid(period) if valid else None)
            amount = promotion_discount(base, promo[3]) if base is not None else Decimal(0)
            if amount > CENT:
                candidates.append((export, header, promo, amount))
    return candidates


def _promotion_after_expiry(ctx: Context) -> list[LeakRow]:
    # the account's own promotion, expired before the period, applied to the whole period
    candidates = _misapplied(
        ctx,
        lambda header, promo, period: promo[1] == header["account_id"] and promo[5] is not None and promo[5] <= period,
        valid=lambda period: (period, None),
    )
    picked = _pick(ctx, candidates)
    if picked is None:
        return []
    export, header, promo, amount = picked
    export.lines.append(_discount_line(export, header["invoice_number"], promo[0], amount))
    detail = f"{promo[0]} ended {promo[5]}, applied to the whole period: {dec(amount, 2)}"
    return _record(ctx, export, header["invoice_number"], "promotion_after_expiry", "holdout", promo[0],
                   Decimal(0), amount, detail)  # fmt: skip


def _promotion_wrong_account(ctx: Context) -> list[LeakRow]:
    promoted = {p[1] for p in landed_promotions(ctx.landing)}
    # another account's promotion, valid all period and not one-time, on an account with none
    candidates = _misapplied(
        ctx,
        lambda header, promo, period: (
            header["account_id"] not in promoted and promo[2] != "one_time" and whole_period(promo, period)
        ),
    )
    picked = _pick(ctx, candidates)
    if picked is None:
        return []
    export, header, promo, amount = picked
    export.lines.append(_discount_line(export, header["invoice_number"], promo[0], amount))
    detail = f"{promo[0]} of {promo[1]} applied to {header['account_id']}: {dec(amount, 2)}"
    return _record(ctx, export, header["invoice_number"], "promotion_wrong_account", "holdout", promo[0],
                   Decimal(0), amount, detail)  # fmt: skip


FAMILIES: list[Family] = [
    Family("promotion_not_applied", "training", "billing", _promotion_not_applied,
           "an invoice's discount line for a promotion of the account dropped, the header following"),
    Family("promotion_percent_wrong", "holdout", "billing", _promotion_percent_wrong,
           "a discount at another percentage than the promotion's, the header following"),
    Family("promotion_after_expiry", "holdout", "billing", _promotion_after_expiry,
           "a promotion that expired before the period applied to the whole period, the header following"),
    Family("promotion_wrong_account", "holdout", "billing", _promotion_wrong_account,
           "a discount for another account's promotion on an account with none, the header following"),
]  # fmt: skip
