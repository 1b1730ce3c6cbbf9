"""Tax rules by jurisdiction and charge type, and daily FX rates (a small random walk)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from tools.simulator.output import RefFile, dec
from tools.simulator.timeline import Timeline

CHARGE_TYPES = ("recurring", "one_time", "usage", "bundle")

# (jurisdiction, charge types, name, rate, valid_from, valid_to); Germany's 2020 cut shows effective dating.
TAX_RULES = (
    ("GB", CHARGE_TYPES, "VAT", "0.20", "2011-01-04", ""),
    ("DE", CHARGE_TYPES, "MwSt", "0.19", "2007-01-01", "2020-07-01"),
    ("DE", CHARGE_TYPES, "MwSt", "0.16", "2020-07-01", "2021-01-01"),
    ("DE", CHARGE_TYPES, "MwSt", "0.19", "2021-01-01", ""),
    ("US", ("usage",), "Federal USF surcharge", "0.045", "2020-01-01", ""),
    ("US", ("recurring", "one_time", "bundle"), "State sales tax", "0.04", "2020-01-01", ""),
)


def tax_files(timeline: Timeline) -> list[RefFile]:
    rows = [(j, ct, name, rate, vf, vt) for j, types, name, rate, vf, vt in TAX_RULES for ct in types]
    return [RefFile("tax", timeline.start, "tax_rules", rows)]


def fx_files(first: date, last: date, rng: np.random.Generator) -> list[RefFile]:
    """One file a day with all six directed pairs of GBP, EUR and USD; crosses are consistent. The first file
    also carries the day before's rates, as a feed's history would: calls in zones ahead of UTC start the
    period on that UTC day."""
    usd_per = {"GBP": Decimal("1.3400"), "EUR": Decimal("1.1600"), "USD": Decimal(1)}
    files = []
    day = first
    while day <= last:
        rows = []
        for base in ("EUR", "GBP", "USD"):
            for quote in ("EUR", "GBP", "USD"):
                if base != quote:
                    rate = dec(usd_per[base] / usd_per[quote], 6)
                    rows += [((day - timedelta(days=1)).isoformat(), base, quote, rate)] if day == first else []
                    rows.append((day.isoformat(), base, quote, rate))
        files.append(RefFile("fx", day, "fx_rates", rows))
        for currency in ("GBP", "EUR"):  # about 0.3% a day, rounded so the walk itself stays decimal
            step = Decimal(int(rng.normal(0, 30))) / 10_000
            usd_per[currency] = (usd_per[currency] * (1 + step)).quantize(Decimal("0.000001"))
        day += timedelta(days=1)
    return files


def tax_rates(jurisdiction: str, day: date) -> dict[str, Decimal]:
    """Charge type -> the sum of the jurisdiction's tax rates in force on `day` (finance.TAX_RULES)."""
    rates = {charge_type: Decimal(0) for charge_type in ("recurring", "one_time", "usage", "bundle")}
    for where, types, _name, rate, valid_from, valid_to in TAX_RULES:
        if where == jurisdiction and valid_from <= day.isoformat() and (not valid_to or day.isoformat() < valid_to):
            for charge_type in types:
                rates[charge_type] += Decimal(rate)
    return rates
