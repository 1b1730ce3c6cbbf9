"""Leakage families on the billing system's lines: the landed export (billing_export/<day>/invoice_lines.csv
and invoices.csv) changed after the simulator wrote it, as a faulty billing system would have issued it.

training: `billed_to_other_account` (some of one account's usage lines on another account's invoice, same
currency), `account_not_invoiced` (an account's whole invoice, lines and the payments naming it removed);
holdout: `quantity_inflated` (billed seconds and amount raised on some lines), `currency_mislabelled` (lines
billed in another currency code at the same number), `billed_before_activation` (a subscription charged in
full for a month it started after the first of), `plan_change_misdated` (an account's calls of the days after a
plan change billed at the plan before it).

Every changed invoice's header is recomputed the way the billing system computes it (`rewrite_invoices`:
net per charge type rounded to cents, tax per charge type at the jurisdiction's rate, total) and a payment of
the old total in full is moved to the new one, so a customer who paid in full still does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from pathlib import Path

from tools.simulator.finance import tax_rates
from tools.simulator.leakage.families import Context, Family, LeakRow, read_csv, write_csv
from tools.simulator.numbering import HOME_COUNTRIES
from tools.simulator.reference import CURRENCIES
from tools.simulator.tariffs import PRODUCTS
from tools.simulator.timeline import add_months

CENT = Decimal("0.01")
LINES_PER_LEAK = 3


@dataclass
class Export:
    """One billing export day: its headers and lines, read to change and written back with `save`."""

    day: str
    invoice_fields: list[str]
    invoices: list[dict[str, str]]
    line_fields: list[str]
    lines: list[dict[str, str]]

    def save(self, landing: Path) -> None:
        folder = landing / "billing_export" / self.day
        write_csv(folder / "invoices.csv", self.invoice_fields, self.invoices)
        write_csv(folder / "invoice_lines.csv", self.line_fields, self.lines)


def exports(landing: Path) -> list[Export]:
    out = []
    for folder in sorted((landing / "billing_export").glob("*/")):
        if not (folder / "invoices.csv").exists() or not (folder / "invoice_lines.csv").exists():
            continue
        inv_fields, invoices = read_csv(folder / "invoices.csv")
        line_fields, lines = read_csv(folder / "invoice_lines.csv")
        out.append(Export(folder.name, inv_fields, invoices, line_fields, lines))
    return out


def jurisdictions(world: object) -> dict[str, str]:
    """account_id -> the tax jurisdiction its invoices are taxed in."""
    accounts = world.accounts  # type: ignore[attr-defined]
    return {a: HOME_COUNTRIES[int(accounts.country[i])] for i, a in enumerate(accounts.ids)}


def jurisdictions_from_landing(landing: Path) -> dict[str, str]:
    """account_id -> tax jurisdiction from the landed CRM accounts (their country), the latest version."""
    out: dict[str, str] = {}
    for path in sorted((landing / "crm").glob("*/accounts.csv")):
        out.update({row["account_id"]: row["country_code"] for row in read_csv(path)[1]})
    return out


def rewrite_invoices(
    landing: Path,
    export: Export,
    jurisdiction: dict[str, str],
    invoice_numbers: Iterable[str],
    rediscount: bool = True,
) -> dict[str, tuple[Decimal, Decimal | None]]:
    """Recompute the headers of `invoice_numbers` from the export's lines as the billing system does (its
    promotions re-applied to the changed lines unless `rediscount` is false, leakage/discounts.py; net per
    charge type rounded to cents, tax per charge type at the account's jurisdiction's rate in the period,
    total); an invoice left with no line loses its header. Saves the export and moves every payment of an
    old total in full (payments/<day>/payments.csv) to the new total; the payments of an invoice that is gone
    go with it.
    Returns invoice -> (old total, new total or None)."""
    from tools.simulator.billing_system import landed_promotions
    from tools.simulator.leakage.discounts import rediscount as apply_promotions

    wanted = set(invoice_numbers)
    if rediscount:  # the lines changed upstream of the billing system's discount step: discounted as billed
        apply_promotions(landing, export, wanted)
    # a discount is netted and taxed under its promotion's charge type
    promoted = {promo[0]: promo[2] for promo in landed_promotions(landing)}
    nets: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in export.lines:
        if line["invoice_number"] in wanted:
            kind = line["line_type"]
            if kind == "discount":
                kind = promoted.get(line["product_id"], kind)
            nets[line["invoice_number"]][kind] += Decimal(line["amount"])
    changes: dict[str, tuple[Decimal, Decimal | None]] = {}
    kept = []
    for header in export.invoices:
        number = header["invoice_number"]
        if number not in wanted:
            kept.append(header)
            continue
        old = Decimal(header["total_amount"])
        if number not in nets:
            changes[number] = (old, None)
            continue
        rates = tax_rates(jurisdiction[header["account_id"]], date.fromisoformat(header["billing_period"]))
        by_type = {t: n.quantize(CENT, ROUND_HALF_UP) for t, n in nets[number].items()}
        net = sum(by_type.values(), Decimal("0.00"))
        tax = sum(((n * rates.get(t, Decimal(0))).quantize(CENT, ROUND_HALF_UP) for t, n in by_type.items()),
                  Decimal("0.00"))  # fmt: skip
        header.update(net_amount=f"{net:.2f}", tax_amount=f"{tax:.2f}", total_amount=f"{net + tax:.2f}")
        changes[number] = (old, net + tax)
        kept.append(header)
    export.invoices = kept
    export.save(landing)
    adjust_payments(landing, changes)
    return changes


def _sync_payment_truth(path: Path, changes: dict[str, tuple[Decimal, Decimal | None]]) -> None:
    """ground_truth/payments.csv follows the changed invoices (the collection control is scored on it): the new
    total invoiced, a payment in full of the new total, what stays outstanding moved by the change; the row of
    an invoice that is gone goes with it."""
    if not path.exists():
        return
    fields, rows = read_csv(path)
    out = []
    for row in rows:
        change = changes.get(row["invoice_number"])
        if change is None:
            out.append(row)
            continue
        old, new = change
        if new is None:
            continue
        row["invoiced_amount"] = f"{new:.2f}"
        if row["kind"] == "payment_full" and row["amount"] and Decimal(row["amount"]) == old:
            row["amount"] = f"{new:.2f}"
        if row["expected_outstanding"] and row["expected_finding"] in ("invoice_unpaid", "short_payment"):
            row["expected_outstanding"] = f"{Decimal(row['expected_outstanding']) + new - old:.2f}"
        out.append(row)
    write_csv(path, fields, out)


def adjust_payments(landing: Path, changes: dict[str, tuple[Decimal, Decimal | None]]) -> None:
    """A payment naming a changed invoice for its old total in full pays the new total; every payment naming
    an invoice that is gone (new total None) goes with it. The ground truth's payments follow."""
    for path in sorted((landing / "payments").glob("*/payments.csv")):
        fields, rows = read_csv(path)
        out, touched = [], False
        for row in rows:
            change = changes.get(row.get("invoice_number", ""))
            if change and change[1] is None:
                touched = True
                continue
            if change and Decimal(row["amount"]) == change[0]:
                touched = True
                row["amount"] = f"{change[1]:.2f}"
            out.append(row)
        if touched:
            write_csv(path, fields, out)
    _sync_payment_truth(landing.parent / "ground_truth" / "payments.csv", changes)


def _call_index(ctx: Context) -> dict[tuple[str, str, str], int]:
    """(source, record_key, account_id) -> true call id, for answered calls of an account."""
    import pyarrow.parquet as pq

    table = pq.read_table(ctx.ground_truth / "calls.parquet",
                          columns=["call_id", "source", "record_key", "account_id"]).to_pydict()  # fmt: skip
    return {
        (s, k, a): c
        for c, s, k, a in zip(table["call_id"], table["source"], table["record_key"], table["account_id"], strict=True)
        if a
    }


def _already_leaking(ctx: Context) -> tuple[set[str], set[int], set[str]]:
    """Accounts, true calls and subscriptions the billing system's own leaks touched (ground_truth/leakage.csv)."""
    path = ctx.ground_truth / "leakage.csv"
    if not path.exists():
        return set(), set(), set()
    _, rows = read_csv(path)
    return ({r["account_id"] for r in rows}, {int(r["call_id"]) for r in rows if r["call_id"]},
            {r["subscription_id"] for r in rows if r["subscription_id"]})  # fmt: skip


def _pick(ctx: Context, candidates: list) -> object | None:
    return candidates[int(ctx.rng.integers(len(candidates)))] if candidates else None


def _usage_by_account(export: Export, ctx: Context, calls: dict, skip_calls: set[int]) -> dict[str, list[tuple]]:
    """account -> [(line index, true call id)] of its usage lines on calls no one touched."""
    out: dict[str, list[tuple]] = defaultdict(list)
    for i, line in enumerate(export.lines):
        if line["line_type"] != "usage" or Decimal(line["amount"]) <= 0:
            continue
        call = calls.get((line["source"], line["record_key"], line["account_id"]))
        if call is None or call in skip_calls or call in ctx.claims.calls:
            continue
        out[line["account_id"]].append((i, call))
    return out


def _free_accounts(ctx: Context, export: Export) -> list[str]:
    return sorted({h["account_id"] for h in export.invoices} - ctx.claims.accounts)


def _billed_to_other_account(ctx: Context) -> list[LeakRow]:
    rows: list[LeakRow] = []
    calls, (_busy, busy_calls, _subs) = _call_index(ctx), _already_leaking(ctx)
    juris = jurisdictions(ctx.world)
    for export in exports(ctx.landing):
        usage = _usage_by_account(export, ctx, calls, busy_calls)
        currency = {h["account_id"]: h["currency"] for h in export.invoices}
        number = {h["account_id"]: h["invoice_number"] for h in export.invoices}
        free = [a for a in _free_accounts(ctx, export) if len(usage[a]) >= LINES_PER_LEAK]
        source = _pick(ctx, free)
        targets = [a for a in _free_accounts(ctx, export) if a != source and currency[a] == currency.get(source)]
        target = _pick(ctx, targets)
        if source is None or target is None:
            continue
        chosen = sorted(ctx.rng.choice(len(usage[source]), LINES_PER_LEAK, replace=False).tolist())
        last = max(int(line["line_number"]) for line in export.lines if line["account_id"] == target)
        for n, k in enumerate(chosen, start=1):
            i, call = usage[source][k]
            line = export.lines[i]
            amount = Decimal(line["amount"])
            line.update(invoice_number=number[target], account_id=target, line_number=str(last + n))
            period = line["billing_period"]
            ctx.claims.calls.add(call)
            rows += [
                LeakRow("billed_to_other_account", "training", "billing", source, period, currency[source], "call",
                        str(call), amount, Decimal(0), "under_billing", f"billed to {target}", (call,)),
                LeakRow("billed_to_other_account", "training", "billing", target, period, currency[target], "call",
                        str(call), Decimal(0), amount, "over_billing", f"a call of {source}", (call,)),
            ]  # fmt: skip
        ctx.claims.accounts.update({source, target})
        rewrite_invoices(ctx.landing, export, juris, [number[source], number[target]])
    return rows


def _account_not_invoiced(ctx: Context) -> list[LeakRow]:
    rows: list[LeakRow] = []
    calls = _call_index(ctx)
    own_leaks = read_csv(ctx.ground_truth / "leakage.csv")[1] if (ctx.ground_truth / "leakage.csv").exists() else []
    juris = jurisdictions(ctx.world)
    for export in exports(ctx.landing):
        account = _pick(ctx, _free_accounts(ctx, export))
        if account is None:
            continue
        header = next(h for h in export.invoices if h["account_id"] == account)
        mine = [line for line in export.lines if line["invoice_number"] == header["invoice_number"]]
        # what the invoice should have carried: its lines, corrected by the billing system's own leaks on it
        leaks = [r for r in own_leaks if (r["account_id"], r["billing_period"]) == (account, header["billing_period"])]
        ids = sorted({c for line in mine if line["line_type"] == "usage"
                      and (c := calls.get((line["source"], line["record_key"], account))) is not None}
                     | {int(r["call_id"]) for r in leaks if r["kind"] == "unbilled_call"})  # fmt: skip
        expected = sum((Decimal(line["amount"]) for line in mine), Decimal(0))
        expected += sum((Decimal(r["expected_amount"]) - Decimal(r["billed_amount"]) for r in leaks), Decimal(0))
        export.lines = [line for line in export.lines if line["invoice_number"] != header["invoice_number"]]
        rewrite_invoices(ctx.landing, export, juris, [header["invoice_number"]])
        _fold_own_leaks(ctx.ground_truth / "leakage.csv", account, header["billing_period"])
        ctx.claims.accounts.add(account)
        ctx.claims.calls.update(ids)
        rows.append(LeakRow("account_not_invoiced", "training", "order_to_bill", account, header["billing_period"],
                            header["currency"], "account", account, expected, Decimal(0), "under_billing",
                            f"invoice {header['invoice_number']} never issued ({len(mine)} lines)",
                            tuple(ids)))  # fmt: skip
    return rows


def _fold_own_leaks(path: Path, account: str, period: str) -> None:
    """The billing system's own leaks on an invoice never issued are no longer leaks of its export: the
    account-level leak carries them (its value is the invoice corrected by them)."""
    if not path.exists():
        return
    fields, rows = read_csv(path)
    write_csv(path, fields, [r for r in rows if (r["account_id"], r["billing_period"]) != (account, period)])


def _quantity_inflated(ctx: Context) -> list[LeakRow]:
    rows: list[LeakRow] = []
    calls, (_busy, busy_calls, _subs) = _call_index(ctx), _already_leaking(ctx)
    juris = jurisdictions(ctx.world)
    for export in exports(ctx.landing):
        usage = _usage_by_account(export, ctx, calls, busy_calls)
        account = _pick(ctx, [a for a in _free_accounts(ctx, export) if len(usage[a]) >= LINES_PER_LEAK])
        if account is None:
            continue
        number = next(h["invoice_number"] for h in export.invoices if h["account_id"] == account)
        for k in sorted(ctx.rng.choice(len(usage[account]), LINES_PER_LEAK, replace=False).tolist()):
            i, call = usage[account][k]
            line = export.lines[i]
            seconds, amount = int(line["quantity"]), Decimal(line["amount"])
            factor = Decimal(int(ctx.rng.integers(2, 4)))  # the seconds doubled or tripled, the amount with them
            line.update(quantity=str(int(seconds * factor)), amount=f"{amount * factor:.6f}")
            ctx.claims.calls.add(call)
            rows.append(LeakRow("quantity_inflated", "holdout", "billing", account, line["billing_period"],
                                line["currency"], "call", str(call), amount, amount * factor, "over_billing",
                                f"billed {seconds * factor} s for {seconds} s", (call,)))  # fmt: skip
        ctx.claims.accounts.add(account)
        rewrite_invoices(ctx.landing, export, juris, [number])
    return rows


def _currency_mislabelled(ctx: Context) -> list[LeakRow]:
    rows: list[LeakRow] = []
    calls, (_busy, busy_calls, _subs) = _call_index(ctx), _already_leaking(ctx)
    for export in exports(ctx.landing):
        usage = _usage_by_account(export, ctx, calls, busy_calls)
        account = _pick(ctx, [a for a in _free_accounts(ctx, export) if len(usage[a]) >= LINES_PER_LEAK])
        if account is None:
            continue
        for k in sorted(ctx.rng.choice(len(usage[account]), LINES_PER_LEAK, replace=False).tolist()):
            i, call = usage[account][k]
            line = export.lines[i]
            right = line["currency"]
            wrong = next(c for c in CURRENCIES if c != right)
            line["currency"] = wrong
            ctx.claims.calls.add(call)
            rows.append(LeakRow("currency_mislabelled", "holdout", "billing", account, line["billing_period"], right,
                                "call", str(call), Decimal(line["amount"]), Decimal(0), "under_billing",
                                f"billed {line['amount']} {wrong} instead of {right}", (call,)))  # fmt: skip
        ctx.claims.accounts.add(account)
        export.save(ctx.landing)  # the numbers are unchanged: so is the header
    return rows


def _subscriptions(landing: Path) -> dict[str, dict[str, str]]:
    """The latest delivered version of every subscription (crm/<day>/subscriptions.csv)."""
    latest: dict[str, dict[str, str]] = {}
    for path in sorted((landing / "crm").glob("*/subscriptions.csv")):
        for row in read_csv(path)[1]:
            latest[row["subscription_id"]] = row
    return latest


def _billed_before_activation(ctx: Context) -> list[LeakRow]:
    """A recurring subscription that started after its month's first day charged for the whole month."""
    rows: list[LeakRow] = []
    _busy, _calls, busy_subs = _already_leaking(ctx)
    juris = jurisdictions(ctx.world)
    accounts = ctx.world.accounts  # type: ignore[attr-defined]
    country = {a: int(accounts.country[i]) for i, a in enumerate(accounts.ids)}
    products = {p[0]: (p[2], p[4]) for p in PRODUCTS if p[4]}
    subs = _subscriptions(ctx.landing)
    for export in exports(ctx.landing):
        candidates = []
        for i, line in enumerate(export.lines):
            sub = subs.get(line.get("subscription_id") or "")
            if sub is None or line["line_type"] not in ("recurring", "bundle") or sub["subscription_id"] in busy_subs:
                continue
            if line["account_id"] in ctx.claims.accounts or sub["product_id"] not in products:
                continue
            period = date.fromisoformat(line["billing_period"])
            start = date.fromisoformat(sub["start_date"])
            full = Decimal(products[sub["product_id"]][1][country[line["account_id"]]]) * int(sub["quantity"])
            if period < start < add_months(period, 1) and not sub["end_date"] and Decimal(line["amount"]) < full:
                candidates.append((i, full))
        pick = _pick(ctx, candidates)
        if pick is None:
            continue
        i, full = pick
        line = export.lines[i]
        prorated = Decimal(line["amount"])
        line["amount"] = f"{full:.6f}"
        account = line["account_id"]
        ctx.claims.accounts.add(account)
        rewrite_invoices(ctx.landing, export, juris, [line["invoice_number"]])
        rows.append(LeakRow("billed_before_activation", "holdout", "order_to_bill", account, line["billing_period"],
                            line["currency"], "subscription", line["subscription_id"], prorated,
                            full.quantize(CENT), "over_billing",
                            f"{line['product_id']} started {subs[line['subscription_id']]['start_date']}, billed the "
                            "whole month"))  # fmt: skip
    return rows


def _plan_changes(landing: Path) -> list[tuple[str, date, str, str]]:
    """(account, day, plan before, plan from it) of every plan change in the landed plan assignments."""
    latest: dict[tuple[str, str], dict[str, str]] = {}
    for path in sorted((landing / "catalog").glob("*/plan_assignments.csv")):
        for row in read_csv(path)[1]:
            latest[(row["account_id"], row["valid_from"])] = row
    by_account: dict[str, list[dict[str, str]]] = defaultdict(list)
    for (account, _day), row in sorted(latest.items()):
        by_account[account].append(row)
    out = []
    for account, rows in by_account.items():
        for before, after in pairwise(rows):
            if before["rate_plan_id"] != after["rate_plan_id"]:
                out.append((account, date.fromisoformat(after["valid_from"]), before["rate_plan_id"],
                            after["rate_plan_id"]))  # fmt: skip
    return out


def _plan_change_misdated(ctx: Context) -> list[LeakRow]:
    """The calls of the two days from an account's plan change billed at the plan before it."""
    import duckdb
    import pyarrow.parquet as pq

    from orchestration.rating.what_if import rate_against_catalog

    rows: list[LeakRow] = []
    calls, (_busy, busy_calls, _subs) = _call_index(ctx), _already_leaking(ctx)
    juris = jurisdictions(ctx.world)
    truth = pq.read_table(ctx.ground_truth / "calls.parquet",
                          columns=["call_id", "b_number", "answer_at", "billable_seconds"])  # fmt: skip
    for export in exports(ctx.landing):
        periods = {h["billing_period"] for h in export.invoices}
        taken = ctx.claims.accounts
        changes = [
            c for c in _plan_changes(ctx.landing) if c[1].replace(day=1).isoformat() in periods and c[0] not in taken
        ]
        change = _pick(ctx, changes)
        if change is None:
            continue
        account, day, before, after = change
        usage = dict(_usage_by_account(export, ctx, calls, busy_calls)[account])  # line index -> true call
        con = duckdb.connect()
        con.register("truth", truth)
        window = con.execute(
            """select cast(call_id as varchar) as call_id, $plan as rate_plan_id, null::varchar as account_id,
                      cast(b_number as varchar) as b_number, strftime(answer_at, '%Y-%m-%dT%H:%M:%SZ') as answer_at,
                      billable_seconds
               from truth where call_id in (select unnest($ids)) and answer_at >= $from and answer_at < $to""",
            {"plan": before, "ids": sorted(usage.values()), "from": day, "to": day + timedelta(days=2)},
        ).to_arrow_table()
        con.close()
        priced = {int(r["call_id"]): r for r in rate_against_catalog(ctx.landing / "catalog", window).to_pylist()
                  if r.get("cost") is not None}  # fmt: skip
        if not priced:
            continue
        expected, billed, ids = Decimal(0), Decimal(0), []
        for i, call in sorted(usage.items()):
            if call not in priced:
                continue
            line = export.lines[i]
            wrong = Decimal(str(priced[call]["cost"]))
            expected, billed = expected + Decimal(line["amount"]), billed + wrong
            line.update(rate_plan_id=before, amount=f"{wrong:.6f}")
            ctx.claims.calls.add(call)
            ids.append(call)
        ids = tuple(sorted(ids))
        ctx.claims.accounts.add(account)
        number = next(h["invoice_number"] for h in export.invoices if h["account_id"] == account)
        rewrite_invoices(ctx.landing, export, juris, [number])
        header = next(h for h in export.invoices if h["account_id"] == account)
        rows.append(LeakRow("plan_change_misdated", "holdout", "rating", account, header["billing_period"],
                            header["currency"], "account", f"{account}|{day.isoformat()}", expected, billed,
                            "under_billing" if expected > billed else "over_billing",
                            f"{after} from {day}, billed at {before} for {len(ids)} calls of two days",
                            ids))  # fmt: skip
    return rows


FAMILIES: list[Family] = [
    Family("billed_to_other_account", "training", "billing", _billed_to_other_account,
           "some of one account's usage lines on another account's invoice of the same currency"),
    Family("account_not_invoiced", "training", "order_to_bill", _account_not_invoiced,
           "an account's whole invoice never issued: its lines, header and the payments naming it removed"),
    Family("quantity_inflated", "holdout", "billing", _quantity_inflated,
           "billed seconds and amount doubled or tripled on some usage lines"),
    Family("currency_mislabelled", "holdout", "billing", _currency_mislabelled,
           "usage lines of an account billed in another currency code at the same number"),
    Family("billed_before_activation", "holdout", "order_to_bill", _billed_before_activation,
           "a subscription that started during the month charged for the whole month"),
    Family("plan_change_misdated", "holdout", "rating", _plan_change_misdated,
           "the calls of the two days from an account's plan change billed at the plan before it"),
]  # fmt: skip
