"""Payments: the "collected" side. Customers pay the invoice of every month that ended before the last delivery.

Invoices are issued on the 1st of the month after the period and fall due PAYMENT_TERMS_DAYS later (the
`payment_terms_days` var of dbt_project.yml). tollhouse computes the invoice total; the simulator cannot, so a
customer pays its own estimate of it: the month's subscriptions at the catalog prices (recurring charges and
bundles prorated by day, one-time charges in the month they start), a round usage amount from the account's
answered outbound minutes at a nominal rate, and the account's taxes on both. Promotions, tiers and bundle
allowances are left out: the estimate is close to the invoice, never equal to it by design.

Per month, drawn from the seed: one account pays late (marked `payment_late`; received after the due date when the
deliveries reach that far, else on the last delivery day), two pay on account (no invoice number), a few pay about
half (`payment_partial`), a few pay nothing (`payment_missing`), and the rest pay the estimate against the invoice
number (`payment_full`), on a day between the 2nd of the month after the period and the due date or the last
delivery day, whichever comes first. Every (account, month), paid or not, is one row of the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from orchestration.billing_ids import invoice_number
from orchestration.simulator.finance import TAX_RULES
from orchestration.simulator.numbering import HOME_COUNTRIES
from orchestration.simulator.output import RefFile, dec
from orchestration.simulator.reference import CURRENCIES, World
from orchestration.simulator.tariffs import NOMINAL_USD_PER, PRODUCTS
from orchestration.simulator.timeline import Timeline, add_months, epoch
from orchestration.simulator.traffic import ANSWERED, INBOUND, Calls

PAYMENT_TERMS_DAYS = 30  # as dbt_project.yml's payment_terms_days: due date = issue date + this
PAYMENT_KINDS = ("payment_full", "payment_partial", "payment_missing", "payment_on_account", "payment_late")
METHODS = ("bank_transfer", "direct_debit", "card")
USAGE_USD_PER_MINUTE = Decimal("0.02")  # nominal: what a customer guesses its calls cost
USAGE_ROUNDING = Decimal(10)  # the usage part of the estimate is a round amount: whole tens
PAYMENT_COLUMNS = (
    "billing_period",
    "account_id",
    "invoice_number",
    "currency",
    "estimated_amount",
    "kind",
    "payment_id",
    "amount",
    "received_date",
    "file",
    "line_no",
    "detail",
)


@dataclass(frozen=True)
class Payment:
    """One account's month: what it owes by its own estimate and what it paid (nothing when missing)."""

    period: date
    account_id: str
    currency: str
    estimate: Decimal
    kind: str
    amount: Decimal | None = None
    received: date | None = None
    method: str = ""
    detail: str = ""
    payment_id: str = ""
    file: str = ""
    line_no: int | None = None

    @property
    def invoice_number(self) -> str:
        return invoice_number(self.account_id, self.period)

    def landing_row(self) -> tuple:
        reference = "" if self.kind == "payment_on_account" else self.invoice_number
        assert self.amount is not None and self.received is not None
        return (
            self.payment_id,
            self.account_id,
            reference,
            dec(self.amount, 2),
            self.currency,
            self.received.isoformat(),
            self.method,
        )

    def truth_row(self) -> tuple:
        return (
            self.period.isoformat(),
            self.account_id,
            self.invoice_number,
            self.currency,
            dec(self.estimate, 2),
            self.kind,
            self.payment_id,
            "" if self.amount is None else dec(self.amount, 2),
            "" if self.received is None else self.received.isoformat(),
            self.file,
            "" if self.line_no is None else str(self.line_no),
            self.detail,
        )


def billable_periods(timeline: Timeline, last_day: date) -> list[date]:
    """Months of the simulation whose invoices (issued on the 1st of the next month) can be paid by
    `last_day`: the 2nd of the next month is a delivery day."""
    return [m for m in timeline.month_starts if add_months(m, 1) + timedelta(days=1) <= last_day]


def payment_files(
    world: World, timeline: Timeline, calls: Calls, last_day: date, rng: np.random.Generator
) -> tuple[list[RefFile], list[Payment]]:
    """One payments.csv per delivery day from the first day a payment can arrive to `last_day` (header only on
    days without payments), and every (account, month) with its outcome, in (period, account) order."""
    periods = billable_periods(timeline, last_day)
    if not periods:
        return [], []
    estimates = _estimates(world, periods, calls)
    methods = rng.choice(len(METHODS), len(world.accounts), p=[0.55, 0.3, 0.15])
    payments: list[Payment] = []
    for m, period in enumerate(periods):
        owing = np.flatnonzero(estimates[:, m] > 0)
        payments += _month(world, period, owing, estimates[:, m], methods, last_day, rng)

    paid = sorted((p for p in payments if p.received), key=lambda p: (p.received, p.period, p.account_id))
    done: dict[tuple[date, str], Payment] = {}
    lines: dict[date, int] = {}
    for i, p in enumerate(paid):  # ids in the order payments arrive; line 1 of a file is its header
        lines[p.received] = lines.get(p.received, 1) + 1
        path = RefFile("payments", p.received, "payments", ()).path
        done[(p.period, p.account_id)] = replace(p, payment_id=f"PAY-{i + 1:06d}", file=path, line_no=lines[p.received])
    first_day = add_months(periods[0], 1) + timedelta(days=1)
    days = [first_day + timedelta(days=d) for d in range((last_day - first_day).days + 1)]
    files = [
        RefFile("payments", day, "payments", [p.landing_row() for p in done.values() if p.received == day])
        for day in days
    ]
    return files, [done.get((p.period, p.account_id), p) for p in payments]


def _month(
    world: World,
    period: date,
    owing: np.ndarray,
    estimates: np.ndarray,
    methods: np.ndarray,
    last_day: date,
    rng: np.random.Generator,
) -> list[Payment]:
    """The outcome of each owing account's invoice for `period` (a small loop over accounts)."""
    acc = world.accounts
    issued = add_months(period, 1)
    due = issued + timedelta(days=PAYMENT_TERMS_DAYS)
    window = (min(last_day, due) - issued).days  # payable on issued + 1 .. issued + window
    n = len(owing)
    counts = {
        "payment_late": 1,
        "payment_on_account": 2,
        "payment_partial": max(1, round(0.1 * n)),
        "payment_missing": max(1, round(0.07 * n)),
    }
    kinds = np.full(n, "payment_full", dtype=object)
    order = rng.permutation(n)
    taken = 0
    for kind, count in counts.items():
        kinds[order[taken : taken + count]] = kind
        taken += count
    days = rng.integers(1, window + 1, n)
    half = rng.integers(40, 61, n)  # percent of the estimate a partial payer pays
    late_by = rng.integers(1, 15, n)
    out = []
    for k, a in enumerate(owing.tolist()):
        c = int(acc.country[a])
        estimate = estimates[a]
        base = Payment(period, acc.ids[a], CURRENCIES[c], estimate, str(kinds[k]), method=METHODS[methods[a]])
        received, amount, detail = issued + timedelta(days=int(days[k])), estimate, ""
        match base.kind:
            case "payment_missing":
                out.append(replace(base, detail=f"nothing received by {last_day}; due {due}"))
                continue
            case "payment_partial":
                amount = (estimate * int(half[k]) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
                detail = f"paid {half[k]}% of the estimate; {dec(estimate - amount, 2)} left open"
            case "payment_on_account":
                detail = (
                    f"meant for {base.invoice_number}, sent without it: billing applies it to the oldest open invoice"
                )
            case "payment_late":
                received = due + timedelta(days=int(late_by[k]))
                if received > last_day:
                    received = last_day
                    detail = f"due {due}; deliveries end before it, so paid on the last delivery day: late by kind only"
                else:
                    detail = f"due {due}; received {(received - due).days} day(s) after the due date"
        out.append(replace(base, amount=amount, received=received, detail=detail))
    return out


def _estimates(world: World, periods: list[date], calls: Calls) -> np.ndarray:
    """Per account and period, the customer's estimate of its invoice total (object array of Decimal, 2 places);
    zero where the account had nothing to pay for."""
    acc = world.accounts
    n, months = len(acc), len(periods)
    charges = np.zeros((n, months, 2), dtype=object)  # [..., 0] subscriptions, [..., 1] usage (before tax)
    charges[:] = Decimal(0)
    tax = {(a, m): _tax_rates(HOME_COUNTRIES[int(acc.country[a])], periods[m]) for a in range(n) for m in range(months)}
    index = {account_id: a for a, account_id in enumerate(acc.ids)}
    prices = {p[0]: (p[2], p[4]) for p in PRODUCTS if p[4]}
    for row in _subscriptions(world).values():
        a = index[row[2]]
        charge_type, price_by_currency = prices[row[3]]
        price = Decimal(price_by_currency[int(acc.country[a])]) * int(row[4])
        start = date.fromisoformat(row[5])
        end = date.fromisoformat(row[6]) if row[6] else None
        for m, period in enumerate(periods):
            following = add_months(period, 1)
            if charge_type == "one_time":
                amount = price if period <= start < following else Decimal(0)
            else:
                days = (min(end or following, following) - max(start, period)).days
                amount = price * max(days, 0) / (following - period).days
            rate = tax[(a, m)][charge_type]
            charges[a, m, 0] += amount * (1 + rate)

    start, answer, end = calls.seconds()
    bounds = np.array([epoch(p) for p in [*periods, add_months(periods[-1], 1)]], np.int64)
    month = np.searchsorted(bounds, start, side="right") - 1
    billed = (calls.account >= 0) & (calls.disposition == ANSWERED) & (calls.call_type != INBOUND)
    billed &= (month >= 0) & (month < months) & (answer >= 0)
    seconds = np.bincount(
        calls.account[billed].astype(np.int64) * months + month[billed],
        weights=(end - answer)[billed].astype(np.float64),
        minlength=n * months,
    ).reshape(n, months)
    estimates = np.zeros((n, months), dtype=object)
    for a in range(n):
        per_minute = USAGE_USD_PER_MINUTE / NOMINAL_USD_PER[CURRENCIES[int(acc.country[a])]]
        for m in range(months):
            minutes = Decimal(int(seconds[a, m])) / 60
            usage = (minutes * per_minute / USAGE_ROUNDING).quantize(Decimal(1), ROUND_HALF_UP) * USAGE_ROUNDING
            total = charges[a, m, 0] + usage * (1 + tax[(a, m)]["usage"])
            estimates[a, m] = total.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return estimates


def _subscriptions(world: World) -> dict[str, tuple]:
    """The latest delivered version of every subscription row (a later delivery of an id supersedes)."""
    files = sorted((f for f in world.files if (f.source, f.entity) == ("crm", "subscriptions")), key=lambda f: f.day)
    return {row[0]: row for f in files for row in f.rows}


def _tax_rates(jurisdiction: str, day: date) -> dict[str, Decimal]:
    """Charge type -> the sum of the jurisdiction's tax rates in force on `day` (finance.TAX_RULES)."""
    rates = {charge_type: Decimal(0) for charge_type in ("recurring", "one_time", "usage", "bundle")}
    for where, types, _name, rate, valid_from, valid_to in TAX_RULES:
        if where == jurisdiction and valid_from <= day.isoformat() and (not valid_to or day.isoformat() < valid_to):
            for charge_type in types:
                rates[charge_type] += Decimal(rate)
    return rates
