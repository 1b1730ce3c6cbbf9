"""Payments: the "collected" side. Customers pay the invoice of every month that ended before the last delivery.

Invoices are issued on the 1st of the month after the period and fall due PAYMENT_TERMS_DAYS later (the
`payment_terms_days` var of dbt_project.yml). The invoice a customer receives is the billing system of
record's (billing_system.py): a customer pays that invoice's total, which differs from tollhouse's own
invoice wherever the billing system leaks, and always by the allowances and tiers the export's list
charges leave out (its promotions are discount lines the total carries): the allocation of a payment to
tollhouse's invoice is never exact by design.

Per month, drawn from the seed: one account pays late (marked `payment_late`; received after the due date when the
deliveries reach that far, else on the last delivery day), two pay on account (no invoice number), a few pay about
half (`payment_partial`), a few pay nothing (`payment_missing`), and the rest pay the invoice in full against its
number (`payment_full`), on a day between the 2nd of the month after the period and the due date or the last
delivery day, whichever comes first. Every (account, month) invoiced, paid or not, is one row of the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from orchestration.billing.ids import invoice_number
from tools.simulator.output import RefFile, dec
from tools.simulator.reference import CURRENCIES, World
from tools.simulator.timeline import Timeline, add_months

PAYMENT_TERMS_DAYS = 30  # as dbt_project.yml's payment_terms_days: due date = issue date + this
PAYMENT_KINDS = ("payment_full", "payment_partial", "payment_missing", "payment_on_account", "payment_late")
METHODS = ("bank_transfer", "direct_debit", "card")
PAYMENT_COLUMNS = (
    "billing_period",
    "account_id",
    "invoice_number",
    "currency",
    "invoiced_amount",
    "kind",
    "payment_id",
    "amount",
    "received_date",
    "file",
    "line_no",
    "detail",
    "expected_finding",
    "expected_outstanding",
)
SHORT_TOLERANCE = Decimal("0.01")  # as dbt_project.yml's ra_short_payment_tolerance


@dataclass(frozen=True)
class Payment:
    """One account's month: what it was invoiced and what it paid (nothing when missing)."""

    period: date
    account_id: str
    currency: str
    invoiced: Decimal
    kind: str
    amount: Decimal | None = None
    received: date | None = None
    method: str = ""
    detail: str = ""
    payment_id: str = ""
    file: str = ""
    line_no: int | None = None
    expected_finding: str = ""  # what revenue assurance must find on the invoice as of the last delivery
    expected_outstanding: Decimal | None = None

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
            dec(self.invoiced, 2),
            self.kind,
            self.payment_id,
            "" if self.amount is None else dec(self.amount, 2),
            "" if self.received is None else self.received.isoformat(),
            self.file,
            "" if self.line_no is None else str(self.line_no),
            self.detail,
            self.expected_finding,
            "" if self.expected_outstanding is None else dec(self.expected_outstanding, 2),
        )


def billable_periods(timeline: Timeline, last_day: date) -> list[date]:
    """Months of the simulation whose invoices (issued on the 1st of the next month) can be paid by
    `last_day`: the 2nd of the next month is a delivery day."""
    return [m for m in timeline.month_starts if add_months(m, 1) + timedelta(days=1) <= last_day]


def payment_files(
    world: World,
    timeline: Timeline,
    invoiced: dict[tuple[str, date], Decimal],
    last_day: date,
    rng: np.random.Generator,
    never_pay: set[str] = frozenset(),
) -> tuple[list[RefFile], list[Payment]]:
    """One payments.csv per delivery day from the first day a payment can arrive to `last_day` (header only on
    days without payments), and every (account, month) invoiced with its outcome, in (period, account)
    order. `invoiced` is each invoice's total by (account_id, period)."""
    periods = billable_periods(timeline, last_day)
    if not periods:
        return [], []
    invoiced_totals = np.zeros((len(world.accounts), len(periods)), dtype=object)
    invoiced_totals[:] = Decimal(0)
    for a, account_id in enumerate(world.accounts.ids):
        for m, period in enumerate(periods):
            invoiced_totals[a, m] = invoiced.get((account_id, period), Decimal(0))
    methods = rng.choice(len(METHODS), len(world.accounts), p=[0.55, 0.3, 0.15])
    payments: list[Payment] = []
    for m, period in enumerate(periods):
        owing = np.flatnonzero(invoiced_totals[:, m] > 0)
        payments += _month(world, period, owing, invoiced_totals[:, m], methods, last_day, rng, never_pay)

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
    return files, _expected_findings([done.get((p.period, p.account_id), p) for p in payments], last_day)


def _expected_findings(payments: list[Payment], last_day: date) -> list[Payment]:
    """What the collection control must find on each invoice due before `last_day` (the data's as-of day):
    payments naming an invoice settle it; payments on account settle the account's oldest remaining
    balances first, in the order they arrived (as billing allocates them, so a payment meant for one month
    can complete an earlier one). Nothing collected: invoice_unpaid; less than the total: short_payment,
    with what is missing; in full, the last of it after the due date: late_payment."""
    by_account: dict[str, list[Payment]] = {}
    for p in sorted(payments, key=lambda p: p.period):
        by_account.setdefault(p.account_id, []).append(p)
    out: dict[tuple[date, str], Payment] = {}
    for invoices in by_account.values():
        collected = {p.period: (p.amount or Decimal(0)) if p.kind != "payment_on_account" else Decimal(0)
                     for p in invoices}  # fmt: skip
        last_paid = {p.period: p.received if p.kind != "payment_on_account" else None for p in invoices}
        on_account = sorted((p for p in invoices if p.kind == "payment_on_account" and p.received),
                            key=lambda p: (p.received, p.payment_id))  # fmt: skip
        for payment in on_account:
            left = payment.amount or Decimal(0)
            for invoice in invoices:
                owed = invoice.invoiced - collected[invoice.period]
                if left <= 0:
                    break
                if owed <= 0:
                    continue
                applied = min(owed, left)
                collected[invoice.period] += applied
                left -= applied
                last_paid[invoice.period] = max(filter(None, (last_paid[invoice.period], payment.received)))
        for invoice in invoices:
            due = add_months(invoice.period, 1) + timedelta(days=PAYMENT_TERMS_DAYS)
            got, finding, outstanding = collected[invoice.period], "", None
            if last_day > due:
                if got == 0:
                    finding, outstanding = "invoice_unpaid", invoice.invoiced
                elif got < invoice.invoiced - SHORT_TOLERANCE:
                    finding, outstanding = "short_payment", invoice.invoiced - got
                elif last_paid[invoice.period] and last_paid[invoice.period] > due:
                    finding, outstanding = "late_payment", Decimal(0)
            out[invoice.period, invoice.account_id] = replace(
                invoice, expected_finding=finding, expected_outstanding=outstanding
            )
    return [out[p.period, p.account_id] for p in payments]


def _month(
    world: World,
    period: date,
    owing: np.ndarray,
    invoiced_totals: np.ndarray,
    methods: np.ndarray,
    last_day: date,
    rng: np.random.Generator,
    never_pay: set[str],
) -> list[Payment]:
    """The outcome of each owing account's invoice for `period` (a small loop over accounts)."""
    acc = world.accounts
    issued = add_months(period, 1)
    due = issued + timedelta(days=PAYMENT_TERMS_DAYS)
    window = (min(last_day, due) - issued).days  # payable on issued + 1 .. issued + window
    n = len(owing)
    fraudsters = np.array([acc.ids[a] in never_pay for a in owing.tolist()], bool)
    counts = {
        "payment_late": 1,
        "payment_on_account": 2,
        "payment_partial": max(1, round(0.1 * n)),
        "payment_missing": max(1, round(0.07 * n)) - int(fraudsters.sum()),  # a fraudster is one of them
    }
    kinds = np.full(n, "payment_full", dtype=object)
    order = rng.permutation(n)
    order = order[~fraudsters[order]]  # the other kinds go to honest payers, so each kind still occurs
    taken = 0
    for kind, count in counts.items():
        kinds[order[taken : taken + count]] = kind
        taken += count
    kinds[fraudsters] = "payment_missing"  # subscription fraud never pays
    days = rng.integers(1, window + 1, n)
    half = rng.integers(40, 61, n)  # percent of the invoice a partial payer pays
    late_by = rng.integers(1, 15, n)
    out = []
    for k, a in enumerate(owing.tolist()):
        c = int(acc.country[a])
        invoiced = invoiced_totals[a]
        base = Payment(period, acc.ids[a], CURRENCIES[c], invoiced, str(kinds[k]), method=METHODS[methods[a]])
        received, amount, detail = issued + timedelta(days=int(days[k])), invoiced, ""
        match base.kind:
            case "payment_missing":
                out.append(replace(base, detail=f"nothing received by {last_day}; due {due}"))
                continue
            case "payment_partial":
                amount = (invoiced * int(half[k]) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
                detail = f"paid {half[k]}% of the invoice; {dec(invoiced - amount, 2)} left open"
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
