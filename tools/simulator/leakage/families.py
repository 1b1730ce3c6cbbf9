"""Leakage families applied to a simulated operator's landed files, each with its ground truth.

A family changes what the simulator already wrote, the way a real fault would: a switch file that never
arrived, a billed line re-pointed to another account, a payment applied to another customer's invoice, a
vendor that bills more minutes than it carried. Because a family works on the landed files (not on the
simulator's internals), it can stand for a fault nobody planned the controls for.

Families come in two mixes: `training` (the demo's, the ones the controls were developed against) and
`holdout` (kept apart: scored by `tollhouse report score --mix holdout`, never used to tune a control).
Each family records one row of ground_truth/leaks.csv per leak (`LeakRow`): what it touched (subject), its
money and direction. Estimates (a missing file's traffic) are marked as such.

Families live in the modules of `FAMILY_MODULES`, each exporting `FAMILIES: list[Family]`. They are applied
in that order after everything else was written, each on accounts, calls and files no earlier family claimed
(`Claims`), so one fault never hides another.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from tools.simulator.output import csv_bytes

MIXES = ("none", "training", "holdout", "all")

# How a leak names what it touched; the scorer matches findings on it (tools/simulator/scoring.py).
SUBJECT_KINDS = (
    "call",  # subject: the true call id (ground_truth/calls.parquet); call_ids as well
    "account",  # subject: the account id (an account-level fault: never invoiced, a plan from the wrong date)
    "subscription",  # subject: subscription_id
    "invoice",  # subject: the billing system's invoice_number
    "payment",  # subject: payment_id
    "file",  # subject: the landed path relative to landing/, e.g. asterisk/2026-09-02/ast-lon1_20260902T05Z.csv
    "switch_hour",  # subject: <switch_id>|<YYYY-MM-DDTHH> (UTC hour)
    "trunk_hour",  # subject: <trunk_id>|<YYYY-MM-DDTHH> (UTC hour)
    "vendor_invoice",  # subject: the vendor's invoice number (and line, as <number>|<line>)
    "route",  # subject: route_id
)

LEAK_COLUMNS = (
    "leak_id",
    "family",
    "mix",
    "area",  # usage_capture, mediation, rating, billing, order_to_bill, collection, cost
    "account_id",  # empty when the leak belongs to no one account (a file, a switch hour, a vendor invoice)
    "billing_period",  # YYYY-MM-01, or empty
    "currency",
    "subject_kind",
    "subject",
    "call_ids",  # true call ids the leak touched, ';'-separated (may be empty)
    "expected_amount",
    "billed_amount",
    "leakage_amount",  # |expected - billed|, or the estimate
    "direction",  # under_billing, over_billing, collection, cost, none
    "is_estimate",  # true when the value is an estimate (traffic of a file that never arrived)
    "detail",
)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A landed CSV with a header (billing export, payments, reference files): its field names and rows."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, fieldnames: list[str], rows: list[dict[str, str]]) -> None:
    """Rewrite a landed CSV as the simulator writes it (a header, `\\n` line ends)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class LeakRow:
    family: str
    mix: str
    area: str
    account_id: str
    billing_period: str
    currency: str
    subject_kind: str
    subject: str
    expected: Decimal
    billed: Decimal
    direction: str
    detail: str
    call_ids: tuple[int, ...] = ()
    is_estimate: bool = False
    leakage: Decimal | None = None  # default |expected - billed|

    def __post_init__(self) -> None:
        if self.subject_kind not in SUBJECT_KINDS:
            raise ValueError(f"unknown subject kind {self.subject_kind!r}")

    def row(self, n: int) -> tuple:
        value = abs(self.expected - self.billed) if self.leakage is None else self.leakage
        return (
            f"LK-{n:06d}", self.family, self.mix, self.area, self.account_id, self.billing_period, self.currency,
            self.subject_kind, self.subject, ";".join(str(c) for c in self.call_ids), format(self.expected, "f"),
            format(self.billed, "f"), format(value, "f"), self.direction, str(self.is_estimate).lower(), self.detail,
        )  # fmt: skip


@dataclass
class Claims:
    """What earlier families touched: a later family picks other accounts, calls and files."""

    accounts: set[str] = field(default_factory=set)
    calls: set[int] = field(default_factory=set)
    files: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Context:
    """What a family may read: the data folder (landing/ and ground_truth/ as the simulator wrote them, with
    calls.parquet), the world (accounts, trunks, subscriptions), the timeline, and its own random stream."""

    landing: Path
    ground_truth: Path
    world: object  # reference.World
    timeline: object  # timeline.Timeline
    rng: np.random.Generator
    claims: Claims


@dataclass(frozen=True)
class Family:
    name: str
    mix: str  # training or holdout
    area: str
    apply: Callable[[Context], list[LeakRow]]
    description: str


FAMILY_MODULES = (
    # first: its families need the few accounts with a promotion, the others take any account
    "tools.simulator.leakage.discounts",
    "tools.simulator.leakage.usage",
    "tools.simulator.leakage.bill_lines",
    "tools.simulator.leakage.invoices",
    "tools.simulator.leakage.collection",
    "tools.simulator.leakage.cost",
)


def families() -> list[Family]:
    found: list[Family] = []
    for name in FAMILY_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        found.extend(module.FAMILIES)
    return found


def apply_families(
    mix: str,
    landing: Path,
    ground_truth: Path,
    world: object,
    timeline: object,
    seed_stream: Callable[[str], np.random.Generator],
) -> list[LeakRow]:
    """Apply every family of `mix` (all of both for 'all'), in module order; write ground_truth/leaks.csv."""
    if mix not in MIXES:
        raise ValueError(f"leakage mix must be one of {', '.join(MIXES)}, got {mix!r}")
    claims, rows = Claims(), []
    for family in families():
        if mix == "none" or (mix != "all" and family.mix != mix):
            continue
        context = Context(landing, ground_truth, world, timeline, seed_stream(f"leak-{family.name}"), claims)
        rows.extend(family.apply(context))
    (ground_truth / "leaks.csv").write_bytes(csv_bytes(LEAK_COLUMNS, [r.row(i + 1) for i, r in enumerate(rows)]))
    return rows
