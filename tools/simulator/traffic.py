"""True calls, generated without a per-call Python loop.

Each country's calls are spread over the UTC hours of its local calendar period with a weight for
the local hour and weekday (business-hours peak, quiet nights, lower weekends and holidays), so DST
changes fall out naturally. Then each call gets an account (Pareto-like sizes), a trunk, a call type,
numbers, a disposition with its Q.850 cause, log-normal durations and a route. Times are integer
microseconds since 1970, UTC; what a switch writes is derived from them later (records.py).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from tools.simulator.columnar import Columnar
from tools.simulator.numbering import COUNTRIES, COUNTRY_INDEX, HOME_COUNTRIES, INTERNATIONAL_MIX, RangeTable
from tools.simulator.reference import ACCOUNT_ZONES, SWITCHES, World
from tools.simulator.tariffs import HOLIDAYS, SINGLE_ROUTE_SOURCES
from tools.simulator.timeline import HOUR, Timeline, epoch

CALL_TYPES = ("domestic_fixed", "domestic_mobile", "international", "toll_free", "premium", "inbound_toll_free")
INBOUND = 5
DISPOSITIONS = ("answered", "no_answer", "busy", "failed")
ANSWERED, NO_ANSWER, BUSY, FAILED = range(4)
US = 1_000_000  # microseconds per second
MAX_CALL_S = 5 * 3600  # no call is longer than 5 h: late-reference windows rely on it

_OUTBOUND_MIX = np.array([0.46, 0.30, 0.15, 0.04, 0.012])
_INBOUND_SHARE = 0.12  # of the calls of accounts that own toll-free numbers
_DISPOSITION_MIX = np.array([0.745, 0.13, 0.07, 0.055])
_FAILED_CAUSES = np.array([1, 3, 21, 31, 34, 41, 38])
_FAILED_CAUSE_MIX = np.array([0.2, 0.08, 0.22, 0.1, 0.2, 0.15, 0.05])
# Share of traffic per local hour; weekend and holidays use the flatter, lower profile.
_WEEKDAY_HOURS = np.array(
    [
        0.25,
        0.15,
        0.1,
        0.1,
        0.15,
        0.35,
        0.9,
        2.2,
        4.8,
        6.8,
        7.2,
        7.0,
        5.8,
        6.3,
        6.9,
        6.8,
        6.1,
        4.6,
        3.1,
        2.2,
        1.7,
        1.3,
        0.9,
        0.5,
    ]
)
_WEEKEND_HOURS = np.array(
    [
        0.5,
        0.3,
        0.2,
        0.15,
        0.15,
        0.2,
        0.4,
        0.8,
        1.4,
        2.0,
        2.4,
        2.5,
        2.4,
        2.2,
        2.1,
        2.0,
        1.9,
        1.8,
        1.6,
        1.4,
        1.2,
        1.0,
        0.8,
        0.6,
    ]
)
_DAY_FACTOR = np.array([1.0, 1.03, 1.03, 1.0, 0.93, 1.0, 0.8])  # Monday..Sunday


@dataclass
class Calls(Columnar):
    """One entry per true call; `account` is -1 for trunks nobody owns."""

    switch: np.ndarray  # int8, == home country index
    account: np.ndarray  # int32
    trunk: np.ndarray  # int32 trunk code
    accountcode_of: np.ndarray  # int32 account whose Asterisk accountcode the switch writes, -1 none
    call_type: np.ndarray  # int8 index into CALL_TYPES
    a_number: np.ndarray  # int64 E.164
    a_country: np.ndarray  # int8 COUNTRY_INDEX
    b_number: np.ndarray
    b_country: np.ndarray  # -1: no country (unpriced satellite range)
    start_us: np.ndarray  # int64 true UTC
    answer_us: np.ndarray  # -1 when not answered
    end_us: np.ndarray
    disposition: np.ndarray  # int8 index into DISPOSITIONS
    cause: np.ndarray  # int16 Q.850
    route: np.ndarray  # int16 index into tariffs.ROUTES

    def seconds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start, answer (-1) and end as whole seconds, the resolution every switch writes."""
        answer = np.where(self.answer_us >= 0, self.answer_us // US, -1)
        return self.start_us // US, answer, self.end_us // US


def _hour_weights(country: int, timeline: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """UTC hour starts (seconds) of the country's local period and the traffic weight of each."""
    zone = zoneinfo.ZoneInfo(ACCOUNT_ZONES[country])
    first = int(datetime(timeline.start.year, timeline.start.month, timeline.start.day, tzinfo=zone).timestamp())
    last = int(datetime(timeline.end.year, timeline.end.month, timeline.end.day, tzinfo=zone).timestamp())
    hours = np.arange(first, last, HOUR, dtype=np.int64)
    holidays = set(HOLIDAYS[HOME_COUNTRIES[country]])
    weights = np.empty(len(hours))
    for i, h in enumerate(hours):  # one loop step per hour of the period, not per call
        local = datetime.fromtimestamp(int(h), zone)
        quiet = local.weekday() >= 5 or local.date().isoformat() in holidays
        profile = _WEEKEND_HOURS if quiet else _WEEKDAY_HOURS
        weights[i] = profile[local.hour] * _DAY_FACTOR[local.weekday()] * (0.8 if quiet else 1.0)
    return hours, weights / weights.sum()


def _active_share(world: World, timeline: Timeline) -> np.ndarray:
    acc = world.accounts
    period_from, period_to = epoch(timeline.start), epoch(timeline.end)
    overlap = np.minimum(acc.traffic_to, period_to) - np.maximum(acc.traffic_from, period_from)
    return acc.weight * np.clip(overlap / (period_to - period_from), 0, 1)


def generate_calls(world: World, timeline: Timeline, calls_per_day: int, rng: np.random.Generator) -> Calls:
    """All true calls of the period, sorted by start time."""
    total = calls_per_day * timeline.days
    share = _active_share(world, timeline)
    by_country = np.array([share[world.accounts.country == c].sum() for c in range(3)])
    counts = np.floor(total * by_country / by_country.sum()).astype(np.int64)
    counts[0] += total - counts.sum()
    ranges = RangeTable.build()
    parts = [_country_calls(world, timeline, c, int(counts[c]), ranges, rng) for c in range(3)]
    calls = Calls.concat(parts)
    return calls.take(np.lexsort((calls.switch, calls.start_us)))


def _country_calls(
    world: World, timeline: Timeline, c: int, n: int, ranges: RangeTable, rng: np.random.Generator
) -> Calls:
    acc, trunks, dids = world.accounts, world.trunks, world.dids
    hours, weights = _hour_weights(c, timeline)
    start_us = hours[rng.choice(len(hours), n, p=weights)] * US + rng.integers(0, HOUR * US, n)

    # Account by size, redrawn where the account is not live at that moment (joined late, left early).
    members = np.flatnonzero(acc.country == c)
    p = acc.weight[members] / acc.weight[members].sum()
    account = members[rng.choice(len(members), n, p=p)]
    start_s = start_us // US
    for _ in range(30):
        dead = np.flatnonzero((start_s < acc.traffic_from[account]) | (start_s >= acc.traffic_to[account]))
        if len(dead) == 0:
            break
        account[dead] = members[rng.choice(len(members), len(dead), p=p)]
    dead = (start_s < acc.traffic_from[account]) | (start_s >= acc.traffic_to[account])
    account[dead] = world.roles.anchor[c]

    # Trunk: any of the account's slots live at that moment, else its primary trunk.
    slot = trunks.first_slot[account] + (rng.random(n) * trunks.slot_count[account]).astype(np.int64)
    live = (start_s >= trunks.slot_from[slot]) & (start_s < trunks.slot_to[slot])
    slot = np.where(live, slot, trunks.first_slot[account])
    trunk = trunks.slot_trunk[slot]

    # Call type: inbound toll-free only for accounts that own toll-free numbers.
    call_type = np.searchsorted(np.cumsum(_OUTBOUND_MIX / _OUTBOUND_MIX.sum()), rng.random(n)).astype(np.int8)
    inbound = (dids.tf_count[account] > 0) & (rng.random(n) < _INBOUND_SHARE)
    call_type[inbound] = INBOUND

    a_number = dids.geo[dids.geo_first[account] + (rng.random(n) * dids.geo_count[account]).astype(np.int64)]
    a_country = np.full(n, COUNTRY_INDEX[HOME_COUNTRIES[c]], np.int8)
    b_number = np.zeros(n, np.int64)
    b_country = np.zeros(n, np.int8)
    for t in range(len(CALL_TYPES)):
        members_t = np.flatnonzero(call_type == t)
        if len(members_t) == 0:
            continue
        if t == INBOUND:
            tf = dids.toll_free[
                dids.tf_first[account[members_t]]
                + (rng.random(len(members_t)) * dids.tf_count[account[members_t]]).astype(np.int64)
            ]
            b_number[members_t], b_country[members_t] = tf, a_country[members_t]
            rows = _range_rows(ranges, c, 0, rng, len(members_t), caller=True)
            a_number[members_t], a_country[members_t] = ranges.numbers(rng, rows), ranges.country[rows]
        else:
            rows = _range_rows(ranges, c, t, rng, len(members_t))
            b_number[members_t], b_country[members_t] = ranges.numbers(rng, rows), ranges.country[rows]

    if HOME_COUNTRIES[c] == "US":  # NANP numbers do not tell mobile from fixed: neither can mediation
        call_type[call_type == CALL_TYPES.index("domestic_mobile")] = CALL_TYPES.index("domestic_fixed")
    disposition = np.searchsorted(np.cumsum(_DISPOSITION_MIX), rng.random(n) * _DISPOSITION_MIX.sum())
    disposition = np.minimum(disposition, FAILED).astype(np.int8)
    cause = np.select(
        [disposition == ANSWERED, disposition == BUSY, disposition == NO_ANSWER],
        [16, 17, np.where(rng.random(n) < 0.85, 19, 18)],
        default=_FAILED_CAUSES[rng.choice(len(_FAILED_CAUSES), n, p=_FAILED_CAUSE_MIX)],
    ).astype(np.int16)

    ring_s = np.select(
        [disposition == ANSWERED, disposition == NO_ANSWER, disposition == BUSY],
        [np.clip(rng.lognormal(np.log(6.0), 0.5, n), 0.5, 45), rng.uniform(10, 60, n), rng.uniform(0.3, 4, n)],
        default=rng.uniform(0.05, 3, n),
    )
    median = np.where(call_type == 2, 110.0, 75.0)  # international calls run longer
    talk_s = np.clip(rng.lognormal(np.log(median), 1.1), 1.0, MAX_CALL_S - 60)
    answered = disposition == ANSWERED
    answer_us = np.where(answered, start_us + (ring_s * US).astype(np.int64), -1)
    end_us = start_us + (ring_s * US).astype(np.int64) + np.where(answered, (talk_s * US).astype(np.int64), 0)

    # Route: domestic traffic mostly on one vendor, international on the other (differs per switch).
    domestic = b_country == a_country
    northwind = np.where(domestic, 0.8 if c < 2 else 0.2, 0.3 if c < 2 else 0.6)
    second_vendor = (rng.random(n) >= northwind) & (SWITCHES[c].source not in SINGLE_ROUTE_SOURCES)
    route = (2 * c + second_vendor).astype(np.int16)

    has_code = np.array([bool(code) for code in acc.accountcode])
    return Calls(
        switch=np.full(n, c, np.int8),
        account=account.astype(np.int32),
        trunk=trunk.astype(np.int32),
        accountcode_of=np.where(has_code[account], account, -1).astype(np.int32),
        call_type=call_type,
        a_number=a_number,
        a_country=a_country,
        b_number=b_number,
        b_country=b_country,
        start_us=start_us,
        answer_us=answer_us,
        end_us=end_us,
        disposition=disposition,
        cause=cause,
        route=route,
    )


def _range_rows(
    ranges: RangeTable, c: int, call_type: int, rng: np.random.Generator, n: int, caller: bool = False
) -> np.ndarray:
    """Rows of the range table for `n` numbers of a call type dialled from home country `c`."""
    home = COUNTRY_INDEX[HOME_COUNTRIES[c]]
    phones = np.isin(ranges.kind, ["fixed", "mobile"])
    if caller:  # an outside caller: mostly domestic fixed or mobile, sometimes abroad
        weight = phones * np.where(ranges.country == home, ranges.weight, 0.02)
    elif call_type == 2:
        mix = INTERNATIONAL_MIX[HOME_COUNTRIES[c]]
        country_weight = np.array([mix.get(COUNTRIES[i], 0.0) for i in ranges.country])
        kind_weight = np.where(ranges.kind == "fixed", 0.6, 0.4) * phones
        weight = country_weight * kind_weight * ranges.weight
    else:
        kind = ("fixed", "mobile", None, "toll_free", "premium")[call_type]
        weight = np.where((ranges.country == home) & (ranges.kind == kind), ranges.weight, 0.0)
    rows = np.flatnonzero(weight)
    return rows[rng.choice(len(rows), n, p=weight[rows] / weight[rows].sum())]
