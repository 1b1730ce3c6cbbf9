"""Catalog and vendor files: products, prices, bundles, tiers, promotions, rate plans and cost decks.

Every price derives from one wholesale anchor per destination (numbering.RATE_PREFIXES, USD per
minute) through a markup and a nominal exchange rate, computed in Decimal and written as plain
decimal strings. One vendor destination is priced above every retail plan on purpose
(NEGATIVE_MARGIN), for the negative-margin control to find, and one customer rate is keyed in at a
tenth of its price from the rate-change day (MISPRICED_RATE), for rating's margin report to find.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from tools.simulator.numbering import FRAUD_DESTINATIONS, RATE_PREFIXES, RatePrefix
from tools.simulator.output import RefFile, dec
from tools.simulator.reference import CURRENCIES, SWITCHES, World
from tools.simulator.timeline import Timeline

NOMINAL_USD_PER = {"USD": Decimal(1), "GBP": Decimal("1.34"), "EUR": Decimal("1.16")}
BAND_FACTOR = {"peak": Decimal("1.0"), "offpeak": Decimal("0.6"), "weekend": Decimal("0.4")}
NEGATIVE_MARGIN = ("VND-NORTHWIND", "4477", "0.0400")  # vendor, prefix, cost per minute (GBP)
# A customer rate keyed in at a tenth of its price from the rate-change day (a decimal slip): plan,
# prefix, factor. Calls at that version cost less than their termination, for rating's margin to show.
MISPRICED_RATE = ("DE-FLEX-EUR", "4930", Decimal("0.1"))

# Public holidays 2026-2027 (England & Wales bank holidays, US federal holidays as observed).
GB_HOLIDAYS = (
    "2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25",
    "2026-12-28", "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30",
    "2027-12-27", "2027-12-28",
)  # fmt: skip
DE_HOLIDAYS = (
    "2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-05-14", "2026-05-25", "2026-10-03",
    "2026-12-25", "2026-12-26", "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-01", "2027-05-06",
    "2027-05-17", "2027-10-03", "2027-12-25", "2027-12-26",
)  # fmt: skip
US_HOLIDAYS = (
    "2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07",
    "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25", "2027-01-01", "2027-01-18", "2027-02-15",
    "2027-05-31", "2027-06-18", "2027-07-05", "2027-09-06", "2027-10-11", "2027-11-11", "2027-11-25",
    "2027-12-24",
)  # fmt: skip
HOLIDAYS = {"GB": GB_HOLIDAYS, "DE": DE_HOLIDAYS, "US": US_HOLIDAYS}


@dataclass(frozen=True)
class Plan:
    plan_id: str
    home: str  # country whose calls are domestic
    currency: str
    timezone: str
    rounding: tuple[str, int]
    band_mode: str
    increments: tuple[tuple[int, int], ...]  # (group_start_s, increment_s) slots
    bands: tuple[tuple[str, str, str, str], ...]  # (band, weekdays, start_time, end_time)
    domestic_connect_fee: str = "0"


_BUSINESS = (("peak", "1-5", "08:00:00", "18:00:00"), ("offpeak", "1-5", "00:00:00", "08:00:00"),
             ("offpeak", "1-5", "18:00:00", "24:00:00"), ("weekend", "6,7", "00:00:00", "24:00:00"))  # fmt: skip
_US_BUSINESS = (("peak", "1-5", "07:00:00", "19:00:00"), ("offpeak", "1-5", "00:00:00", "07:00:00"),
                ("offpeak", "1-5", "19:00:00", "24:00:00"), ("weekend", "6,7", "00:00:00", "24:00:00"))  # fmt: skip
_ALWAYS = (("standard", "1-7", "00:00:00", "24:00:00"),)

PLANS: tuple[Plan, ...] = (
    Plan("GB-BIZ-GBP", "GB", "GBP", "Europe/London", ("up", 4), "split", ((0, 60),), _BUSINESS, "0.0100"),
    Plan("GB-SEC-GBP", "GB", "GBP", "Europe/London", ("down", 4), "start", ((0, 1),), _ALWAYS),
    Plan("DE-FLEX-EUR", "DE", "EUR", "Europe/Berlin", ("half_up", 4), "start", ((0, 30), (30, 6)), _ALWAYS),
    Plan("US-BIZ-USD", "US", "USD", "America/New_York", ("half_up", 6), "start", ((0, 6),), _US_BUSINESS),
)
VENDOR_PLANS: tuple[tuple[str, str, str, Plan], ...] = (
    ("VND-NORTHWIND", "Northwind Telecom Ltd", "GBP",
     Plan("NW-TERM-GBP", "", "GBP", "UTC", ("half_up", 6), "start", ((0, 1),), _ALWAYS)),
    ("VND-ATLAS", "Atlas Carrier Services Inc.", "USD",
     Plan("AT-TERM-USD", "", "USD", "UTC", ("half_up", 6), "start", ((0, 6), (6, 6)), _ALWAYS)),
)  # fmt: skip
# Route index = 2 * switch index + vendor index; traffic.py picks one per call.
ROUTES: tuple[tuple[str, str, str], ...] = tuple(
    (f"{s.city}-{vendor_id.split('-')[1].lower()}", vendor_id, s.switch_id)
    for s in SWITCHES
    for vendor_id, _, _, _ in VENDOR_PLANS
)
# FreeSWITCH's cdr_csv templates do not record the gateway a call left by, so the FreeSWITCH switch
# terminates through its first vendor only; rating takes a switch's only route when the CDR names none.
SINGLE_ROUTE_SOURCES = ("freeswitch",)
ROUTES_IN_SERVICE = tuple(
    route for i, route in enumerate(ROUTES) if SWITCHES[i // 2].source not in SINGLE_ROUTE_SOURCES or i % 2 == 0
)
PREMIUM_CAP = {"GBP": "10.00", "EUR": "12.00", "USD": "15.00"}
_MARKUP = {  # (kind, domestic) -> retail markup over the wholesale anchor
    ("fixed", True): Decimal("2.2"), ("mobile", True): Decimal("1.7"), ("fixed", False): Decimal("1.6"),
    ("mobile", False): Decimal("1.5"), ("toll_free", True): Decimal("1.3"), ("toll_free", False): Decimal("1.3"),
    ("premium", True): Decimal("1.4"), ("premium", False): Decimal("1.4"),
}  # fmt: skip
PRODUCTS = (
    ("SIP-CHANNEL", "SIP trunk channel", "recurring", "channel", ("4.50", "5.00", "5.50")),
    ("DID-GEO", "Geographic number", "recurring", "number", ("1.00", "1.20", "1.50")),
    ("DID-TOLLFREE", "Toll-free number", "recurring", "number", ("5.00", "6.00", "7.00")),
    ("TRUNK-SETUP", "SIP trunk activation", "one_time", "trunk", ("25.00", "30.00", "35.00")),
    ("BUNDLE-NAT-1000", "1000 national fixed minutes", "bundle", "month", ("8.00", "9.50", "10.00")),
    ("BUNDLE-MOB-500", "500 national mobile minutes", "bundle", "month", ("12.00", "14.00", "15.00")),
    ("BUNDLE-INTL-300", "300 international minutes", "bundle", "month", ("15.00", "17.00", "19.00")),
    ("VOICE-USAGE", "Voice calls", "usage", "second", None),
)
BUNDLES = (("BUNDLE-NAT-1000", 60_000, "domestic_fixed"), ("BUNDLE-MOB-500", 30_000, "domestic_mobile"),
           ("BUNDLE-INTL-300", 18_000, "international"))  # fmt: skip
TIERS = (
    ("TP-DE-MOB-GRAD", "domestic_mobile", "graduated", "EUR",
     (("0", "5000", "0.0300", "5.00"), ("5000", "20000", "0.0250", "0"), ("20000", "", "0.0200", "0"))),
    ("TP-US-INTL-VOL", "international", "volume", "USD",
     (("0", "2000", "0.0500", "0"), ("2000", "10000", "0.0400", "0"), ("10000", "", "0.0300", "0"))),
)  # fmt: skip


def deck_prefixes(total: int, rng: np.random.Generator) -> tuple[RatePrefix, ...]:
    """RATE_PREFIXES, and for a large-deck run (`make bench`) nested sub-ranges under them up to `total`
    prefixes: a parent's prefix plus one digit, up to 10 digits, priced within 10% of its parent."""
    prefixes, known = list(RATE_PREFIXES), {p.prefix for p in RATE_PREFIXES}
    while len(prefixes) < total:
        parent = prefixes[int(rng.integers(len(prefixes)))]
        child = parent.prefix + str(int(rng.integers(10)))
        if len(child) <= 10 and child not in known:
            known.add(child)
            base = Decimal(parent.base_usd) * Decimal(90 + int(rng.integers(0, 21))) / 100
            prefixes.append(
                RatePrefix(
                    child, f"{parent.destination.split(' (')[0]} ({child})", parent.country, parent.kind, f"{base:.5f}"
                )
            )
    return tuple(prefixes)


def catalog_since(timeline: Timeline) -> date:
    return date(timeline.start.year - 1, 1, 1)


def retail_price(plan: Plan, prefix: RatePrefix, band: str) -> Decimal:
    domestic = prefix.country == plan.home
    usd = Decimal(prefix.base_usd) * _MARKUP[(prefix.kind, domestic)] * BAND_FACTOR.get(band, Decimal(1))
    return max(usd / NOMINAL_USD_PER[plan.currency], Decimal("0.0001"))


def _banded(plan: Plan, prefix: RatePrefix) -> bool:
    return len(plan.bands) > 1 and prefix.country == plan.home and prefix.kind in ("fixed", "mobile")


def _rate_rows(plan: Plan, prices: list[tuple[RatePrefix, str, Decimal, date, date | None]], places: int) -> list:
    rows = []
    for prefix, band, price, valid_from, valid_to in prices:
        domestic = prefix.country == plan.home
        fee = plan.domestic_connect_fee if domestic and prefix.kind in ("fixed", "mobile") else "0"
        if prefix.kind == "premium":
            fee = "0.1000"
        # the regulator caps domestic premium-rate calls; international premium ranges are not capped
        cap = PREMIUM_CAP[plan.currency] if prefix.kind == "premium" and prefix.country == plan.home else ""
        for i, (group_start, increment) in enumerate(plan.increments):
            rows.append(
                (
                    plan.plan_id,
                    prefix.prefix,
                    prefix.destination,
                    band,
                    valid_from.isoformat(),
                    valid_to.isoformat() if valid_to else "",
                    fee if i == 0 else "",
                    str(group_start),
                    dec(price, places),
                    "60",
                    str(increment),
                    cap,
                )
            )
    return rows


def _plan_rows(plan: Plan) -> tuple:
    return (plan.plan_id, plan.currency, plan.timezone, plan.rounding[0], str(plan.rounding[1]), plan.band_mode)


def catalog_files(
    world: World,
    timeline: Timeline,
    rng: np.random.Generator,
    prefixes: tuple[RatePrefix, ...] = RATE_PREFIXES,
    split_bands: bool = False,
) -> list[RefFile]:
    """The catalog; `split_bands` prices every banded plan with band_mode split (the bench's deck)."""
    since, start = catalog_since(timeline), timeline.start
    plans = tuple(replace(p, band_mode="split") if split_bands and len(p.bands) > 1 else p for p in PLANS)
    products = [(p[0], p[1], p[2], p[3]) for p in PRODUCTS]
    prices = [
        (p[0], cur, price, since.isoformat(), "")
        for p in PRODUCTS
        if p[4]
        for cur, price in zip(CURRENCIES, p[4], strict=True)
    ]
    bundles = [(pid, str(seconds), call_type) for pid, seconds, call_type in BUNDLES]
    tiers = [
        (tid, call_type, mode, lo, hi, price, flat, cur, "minute")
        for tid, call_type, mode, cur, steps in TIERS
        for lo, hi, price, flat in steps
    ]
    rates, bands, holidays = [], [], []
    for plan in plans:
        entries = []
        for prefix in prefixes:
            band_names = list(dict.fromkeys(b[0] for b in plan.bands)) if _banded(plan, prefix) else ["*"]
            for band in band_names:
                price = retail_price(plan, prefix, band)
                if (plan.plan_id, prefix.prefix) == MISPRICED_RATE[:2]:
                    entries.append((prefix, band, price, since, timeline.rate_change_day))
                    entries.append((prefix, band, price * MISPRICED_RATE[2], timeline.rate_change_day, None))
                elif plan.plan_id == "DE-FLEX-EUR" and prefix.country == "DE" and prefix.kind == "mobile":
                    # A price cut effective mid-period: the old row closes the day the new one opens.
                    entries.append((prefix, band, price, since, timeline.rate_change_day))
                    entries.append((prefix, band, price * Decimal("0.85"), timeline.rate_change_day, None))
                else:
                    entries.append((prefix, band, price, since, None))
        rates += _rate_rows(plan, entries, 4)
        bands += [(plan.plan_id, *b) for b in plan.bands]
        if len(plan.bands) > 1:
            years = {str(y) for y in range(timeline.start.year, timeline.end.year + 1)}
            holidays += [(plan.plan_id, d, "weekend") for d in HOLIDAYS[plan.home] if d[:4] in years]
    files = [
        RefFile("catalog", start, "products", products),
        RefFile("catalog", start, "prices", prices),
        RefFile("catalog", start, "bundles", bundles),
        RefFile("catalog", start, "volume_tiers", tiers),
        RefFile("catalog", start, "rate_plans", [_plan_rows(p) for p in plans]),
        RefFile("catalog", start, "rates", rates),
        RefFile("catalog", start, "time_bands", bands),
        RefFile("catalog", start, "holidays", holidays),
    ]
    return files + _account_catalog_files(world, timeline, rng)


def _account_catalog_files(world: World, timeline: Timeline, rng: np.random.Generator) -> list[RefFile]:
    """Plan assignments, tier assignments and promotions: the per-account side of the catalog."""
    acc, roles = world.accounts, world.roles
    start, since = timeline.start, catalog_since(timeline)
    initial, later = [], {}
    for a in range(len(acc)):
        row = (acc.ids[a], acc.plan[a], acc.created[a].isoformat(), "")
        if a in roles.activated:
            later.setdefault(roles.activated[a], []).append(row)
        elif a == roles.plan_switcher:
            day = timeline.plan_switch_day
            initial.append(row)
            later.setdefault(day, []).extend(
                [
                    (acc.ids[a], acc.plan[a], acc.created[a].isoformat(), day.isoformat()),
                    (acc.ids[a], "GB-SEC-GBP", day.isoformat(), ""),
                ]
            )
        else:
            initial.append(row)
    files = [RefFile("catalog", start, "plan_assignments", initial)]
    files += [RefFile("catalog", day, "plan_assignments", rows) for day, rows in sorted(later.items())]
    special = set(roles.activated) | set(roles.cancelled)

    def some(country: int, n: int) -> list[int]:
        pool = [a for a in range(len(acc)) if acc.country[a] == country and a not in special]
        return sorted(int(a) for a in rng.choice(pool, size=min(n, len(pool)), replace=False))

    tiers = [(acc.ids[a], "TP-DE-MOB-GRAD", since.isoformat(), "") for a in some(1, 2)]
    tiers += [(acc.ids[a], "TP-US-INTL-VOL", since.isoformat(), "") for a in some(2, 2)]
    gb, de, us = some(0, 1)[0], some(1, 1)[0], some(2, 1)[0]
    promotions = [
        (
            "PROMO-0001",
            acc.ids[gb],
            "recurring",
            "10",
            (start - timedelta(days=61)).isoformat(),
            timeline.promo_end_day.isoformat(),
        ),
        ("PROMO-0002", acc.ids[de], "usage", "5", start.isoformat(), ""),
        ("PROMO-0003", acc.ids[us], "recurring", "15", start.isoformat(), ""),
    ]
    # one more per country, picked without the random stream (the rest of the catalogue stays as it was):
    # an expired one, a usage and a recurring one, a percentage with a decimal
    taken = {gb, de, us} | {a for a in range(len(acc)) if acc.ids[a] in {t[0] for t in tiers}}
    more = (
        (0, "usage", "10", start - timedelta(days=120), start - timedelta(days=30)),
        (1, "recurring", "20", start, None),
        (2, "usage", "8", start, None),
        (0, "recurring", "12.5", start - timedelta(days=30), None),
    )
    for country, charge_type, percent, valid_from, valid_to in more:
        a = next((a for a in range(len(acc)) if acc.country[a] == country and a not in special | taken), None)
        if a is None:
            continue
        taken.add(a)
        end = valid_to.isoformat() if valid_to else ""
        promotions.append((f"PROMO-{len(promotions) + 1:04d}", acc.ids[a], charge_type, percent,
                           valid_from.isoformat(), end))  # fmt: skip
    files.append(RefFile("catalog", start, "tier_assignments", tiers))
    files.append(RefFile("catalog", start, "promotions", promotions))
    return files


def vendor_files(
    timeline: Timeline, rng: np.random.Generator, prefixes: tuple[RatePrefix, ...] = RATE_PREFIXES
) -> list[RefFile]:
    since, start = catalog_since(timeline), timeline.start
    vendors, plans, rates, bands = [], [], [], []
    for vendor_id, name, currency, plan in VENDOR_PLANS:
        vendors.append((vendor_id, name, currency, plan.plan_id))
        plans.append(_plan_rows(plan))
        bands += [(plan.plan_id, *b) for b in plan.bands]
        low = Decimal("0.80") if vendor_id == "VND-NORTHWIND" else Decimal("0.72")
        entries = []
        for prefix in prefixes:
            # Cheaper than wholesale anchor x markup. Fraud destinations take a fixed factor, so adding them
            # did not reshuffle the other destinations' costs.
            step = 10 if prefix in FRAUD_DESTINATIONS else int(rng.integers(0, 16))
            factor = low + Decimal(step) / 100
            cost = Decimal(prefix.base_usd) * factor / NOMINAL_USD_PER[currency]
            if (vendor_id, prefix.prefix) == NEGATIVE_MARGIN[:2]:
                cost = Decimal(NEGATIVE_MARGIN[2])
            entries.append((prefix, "*", max(cost, Decimal("0.00001")), since, None))
        rates += _rate_rows(plan, entries, 5)
    routes = [
        (route_id, vendor_id, switch_id, since.isoformat(), "") for route_id, vendor_id, switch_id in ROUTES_IN_SERVICE
    ]
    return [
        RefFile("vendor", start, "vendors", vendors),
        RefFile("vendor", start, "routes", routes),
        RefFile("vendor", start, "rate_plans", plans),
        RefFile("vendor", start, "rates", rates),
        RefFile("vendor", start, "time_bands", bands),
        RefFile("vendor", start, "holidays", []),
    ]
