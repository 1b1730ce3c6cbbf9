"""Fraud incidents, added to the true calls before the switches write them.

Five kinds, as operators meet them (CFCA; docs/fraud.md):
- irsf: a compromised PBX sends a night burst of calls to international premium ranges (revenue share fraud);
- pbx_hacking: a hacked PBX runs many simultaneous long international calls outside business hours;
- wangiri_callback: after missed calls from premium numbers, customers of several accounts call them back;
- traffic_pumping: a steady daytime stream of long calls to a high-termination destination;
- subscription_fraud: an account just activated spends at once on premium and costly destinations, and never pays.

Five more kinds run only in the held-out mix, so that no rule or model is tuned on them:
- wangiri_inbound: one-ring inbound calls from premium numbers abroad to many numbers of several accounts, then
  a few of the customers call those numbers back over the next day;
- pbx_over_capacity: a hijacked trunk runs far more channels at once than were ordered, on cheap destinations
  (many calls, modest cost each);
- sim_box: a few callers dial many distinct domestic mobiles with near-identical durations, round the clock;
- slow_persistent: a few long calls a day to one premium number for two weeks, each day unremarkable;
- unpriced_hijack: calls to a satellite range no customer plan prices (rating cannot value them).

A mix says how many incidents of each kind per month and how strong, when and on which accounts they run.
The training mix is what the demo operator suffers; the held-out mix (`fraud evaluate` runs it with another
seed) has other intensities, hours and account sizes, and is for evaluation only. Every incident and its
calls are recorded in the ground truth (fraud_incidents.csv; calls.parquet's fraud_incident_id).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from tools.simulator.numbering import COUNTRY_INDEX, FRAUD_DESTINATIONS, HOME_COUNTRIES, RangeTable
from tools.simulator.reference import ACCOUNT_ZONES, SWITCHES, World
from tools.simulator.tariffs import SINGLE_ROUTE_SOURCES
from tools.simulator.timeline import HOUR, Timeline
from tools.simulator.traffic import ANSWERED, CALL_TYPES, INBOUND, NO_ANSWER, US, Calls

KINDS = ("irsf", "pbx_hacking", "wangiri_callback", "traffic_pumping", "subscription_fraud")
HOLDOUT_KINDS = ("wangiri_inbound", "pbx_over_capacity", "sim_box", "slow_persistent", "unpriced_hijack")
INCIDENT_COLUMNS = ("incident_id", "kind", "account_ids", "start_at", "end_at", "calls", "answered_calls", "detail")
_INTERNATIONAL = CALL_TYPES.index("international")
_HIGH_COST_ABROAD = ("2348", "639", "919")  # ranges a hacked PBX also dials: costly, but not on the hot list
_CHEAP_ABROAD = ("1646", "1718", "8610", "5255", "3120")  # cheap per minute: an over-capacity hijack's traffic
_UNPRICED_SATELLITE = (8816, 12)  # Iridium-style prefix and E.164 length: in no rate deck or plan
_SLOW_PERSISTENT_DAYS = 14


@dataclass(frozen=True)
class Mix:
    name: str
    per_month: int  # incidents of each kind per month (subscription fraud: one per simulation at most)
    intensity: tuple[float, float]  # calls-per-hour multiplier, drawn per incident
    night_hours: tuple[int, ...]  # local start hours of night attacks (IRSF)
    off_hours: tuple[int, ...]  # local start hours of PBX hacking on weekdays (weekends: any hour)
    day_hours: tuple[int, ...]  # local start hours of daytime incidents (Wangiri callbacks, pumping)
    account_size: str  # "any" | "small" | "large": which accounts the attackers pick
    extra_kinds: tuple[str, ...] = ()  # kinds of HOLDOUT_KINDS, on accounts of any size
    extra_per_month: int = 0


MIXES = {
    "none": None,
    "training": Mix("training", 2, (0.8, 1.2), (22, 23, 0, 1, 2, 3), (19, 20, 21, 22), (9, 10, 11, 14, 15), "any"),
    "holdout": Mix(
        "holdout", 3, (0.5, 1.6), (20, 21, 23, 2, 4, 5), (18, 20, 23), (8, 12, 13, 16, 17), "small", HOLDOUT_KINDS, 2
    ),
}


@dataclass(frozen=True)
class Incident:
    kind: str
    accounts: tuple[int, ...]
    detail: str


def add_fraud(
    calls: Calls, world: World, timeline: Timeline, mix_name: str, rng: np.random.Generator
) -> tuple[Calls, np.ndarray, list[Incident]]:
    """The calls with the incidents' calls added (sorted as traffic sorts them), the incident index of
    each call (-1 for none) and the incidents."""
    mix = MIXES[mix_name]
    if mix is None:
        return calls, np.full(len(calls), -1, np.int32), []
    calls = add_legit_high_risk(calls, rng)
    ranges = RangeTable.build()
    hot = np.flatnonzero(np.isin(ranges.prefix, [int(p.prefix) for p in FRAUD_DESTINATIONS]))
    costly = np.flatnonzero(np.isin(ranges.prefix, [int(p) for p in _HIGH_COST_ABROAD]))
    maker = _Maker(world, ranges, hot, costly, rng)
    plain = _plain_accounts(world, mix)
    incidents, parts = [], []
    used: set[int] = set()
    lasting: set[int] = set()
    months = timeline.month_starts
    for m, month in enumerate(months):
        month_end = months[m + 1] if m + 1 < len(months) else timeline.end
        days = np.arange(7, (month_end - month).days - 1)  # a week of history first, a day to spare at the end
        for kind in KINDS[:4]:
            for _ in range(mix.per_month):
                intensity = float(rng.uniform(*mix.intensity))
                day = month + timedelta(days=int(rng.choice(days)))
                if kind == "wangiri_callback":
                    countries = sorted({int(world.accounts.country[a]) for a in plain})
                    country = countries[int(rng.integers(len(countries)))]
                    pool = [a for a in plain if world.accounts.country[a] == country]
                    size = min(len(pool), int(rng.integers(3, 7)))
                    victims = tuple(int(a) for a in rng.choice(pool, size=size, replace=False))
                    part, detail = maker.wangiri(victims, day, mix, intensity)
                    incidents.append(Incident(kind, victims, detail))
                else:
                    free = [a for a in plain if a not in used] or plain
                    account = int(rng.choice(free))
                    used.add(account)
                    part, detail = getattr(maker, kind)(account, day, mix, intensity)
                    incidents.append(Incident(kind, (account,), detail))
                parts.append(part)
        # the held-out kinds, after the others so that their draws leave the others' unchanged
        wide = _plain_accounts(world, replace(mix, account_size="any"))
        for kind in sorted(mix.extra_kinds, key=lambda k: k != "slow_persistent"):  # the two-week one first
            for _ in range(mix.extra_per_month):
                intensity = float(rng.uniform(*mix.intensity))
                last = (month_end - month).days - (_SLOW_PERSISTENT_DAYS + 1 if kind == "slow_persistent" else 1)
                day = month + timedelta(days=int(rng.choice(np.arange(7, max(last, 8)))))
                if kind == "wangiri_inbound":
                    size = min(len(wide), int(rng.integers(3, 7)))
                    victims = tuple(int(a) for a in rng.choice(wide, size=size, replace=False))
                    part, detail = maker.wangiri_inbound(victims, day, mix, intensity)
                    incidents.append(Incident(kind, victims, detail))
                else:
                    # an account no other incident took, else one free of a two-week incident
                    free = [a for a in wide if a not in used] or [a for a in wide if a not in lasting] or wide
                    account = int(rng.choice(free))
                    used.add(account)
                    if kind == "slow_persistent":
                        lasting.add(account)
                    part, detail = getattr(maker, kind)(account, day, mix, intensity)
                    incidents.append(Incident(kind, (account,), detail))
                parts.append(part)
    newcomers = [a for a, day in world.roles.activated.items() if timeline.start <= day < timeline.end]
    if newcomers:
        account = max(newcomers, key=lambda a: world.roles.activated[a])  # the latest: no history at all
        part, detail = maker.subscription_fraud(account, float(rng.uniform(*mix.intensity)))
        incidents.append(Incident("subscription_fraud", (account,), detail))
        parts.append(part)

    marks = [np.full(len(p), i, np.int32) for i, p in enumerate(parts)]
    incident_of = np.concatenate([np.full(len(calls), -1, np.int32), *marks])
    every = Calls.concat([calls, *parts])
    order = np.lexsort((every.switch, every.start_us))
    return every.take(order), incident_of[order], incidents


LEGIT_HIGH_RISK_SHARE = 0.004  # of international calls: family abroad and businesses dial these ranges too


def add_legit_high_risk(calls: Calls, rng: np.random.Generator) -> Calls:
    """Ordinary customers call the high-risk ranges too: a few international calls re-pointed to them, each
    account to a handful of numbers it calls again and again (a relative, a supplier). Without them the
    hot list alone would separate fraud from traffic, which no operator sees."""
    ranges = RangeTable.build()
    hot = np.flatnonzero(np.isin(ranges.prefix, [int(p.prefix) for p in FRAUD_DESTINATIONS]))
    chosen = np.flatnonzero((calls.call_type == _INTERNATIONAL) & (rng.random(len(calls)) < LEGIT_HIGH_RISK_SHARE))
    # each account's own few numbers: drawn once per account, picked per call
    accounts = np.unique(calls.account[chosen])
    rows = hot[rng.integers(0, len(hot), (len(accounts), 3))]
    numbers = ranges.numbers(rng, rows.ravel()).reshape(rows.shape)
    slot = np.searchsorted(accounts, calls.account[chosen])
    which = rng.integers(0, 3, len(chosen))
    calls.b_number[chosen] = numbers[slot, which]
    calls.b_country[chosen] = ranges.country[rows[slot, which]]
    return calls


def _plain_accounts(world: World, mix: Mix) -> list[int]:
    """Accounts with no scripted role and live the whole period, of the size the mix attacks."""
    roles, acc = world.roles, world.accounts
    scripted = {*roles.anchor, roles.mover, roles.receiver, roles.plan_switcher, *roles.late_owners}
    scripted |= set(roles.activated) | set(roles.cancelled)
    live = [a for a in range(len(acc)) if acc.traffic_from[a] == 0 and acc.traffic_to[a] == acc.traffic_to.max()]
    plain = [a for a in live if a not in scripted] or live  # a tiny world: every account has a role
    weights = acc.weight[plain]
    if mix.account_size == "small":
        plain = [a for a, w in zip(plain, weights, strict=True) if w <= np.median(weights)]
    elif mix.account_size == "large":
        plain = [a for a, w in zip(plain, weights, strict=True) if w >= np.median(weights)]
    return plain


class _Maker:
    """Builds one incident's calls; every draw from the one fraud stream, in a fixed order."""

    def __init__(self, world: World, ranges: RangeTable, hot: np.ndarray, costly: np.ndarray, rng: np.random.Generator):
        self.world, self.ranges, self.hot, self.costly, self.rng = world, ranges, hot, costly, rng
        self.cheap = np.flatnonzero(np.isin(ranges.prefix, [int(p) for p in _CHEAP_ABROAD]))

    def _local_start(self, account: int, day, hours: tuple[int, ...], weekend_any: bool = False) -> int:
        """UTC seconds of a local start hour (plus a random minute) on `day` in the account's zone."""
        zone = zoneinfo.ZoneInfo(ACCOUNT_ZONES[int(self.world.accounts.country[account])])
        hour = int(self.rng.choice(hours if not (weekend_any and day.weekday() >= 5) else range(24)))
        local = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
        return int(local.astimezone(UTC).timestamp()) + int(self.rng.integers(0, 3600))

    def _numbers(self, rows: np.ndarray, n: int, targets: int) -> tuple[np.ndarray, np.ndarray]:
        """`n` calls to a handful (`targets`) of numbers drawn from the range rows."""
        picked = self.rng.choice(rows, targets)
        numbers = self.ranges.numbers(self.rng, picked)
        which = self.rng.integers(0, targets, n)
        return numbers[which], self.ranges.country[picked][which]

    def _calls(
        self,
        account: np.ndarray,
        start_s: np.ndarray,
        b_number: np.ndarray,
        b_country: np.ndarray,
        answered: np.ndarray,
        talk_s: np.ndarray,
        a_number: np.ndarray | None = None,
    ) -> Calls:
        rng, acc, trunks, dids = self.rng, self.world.accounts, self.world.trunks, self.world.dids
        n = len(start_s)
        c = acc.country[account]
        if a_number is None:
            a_number = dids.geo[dids.geo_first[account] + (rng.random(n) * dids.geo_count[account]).astype(np.int64)]
        ring_s = np.where(answered, rng.uniform(3, 12, n), rng.uniform(8, 40, n))
        start_us = start_s * US + rng.integers(0, US, n)
        answer_us = np.where(answered, start_us + (ring_s * US).astype(np.int64), -1)
        end_us = start_us + (ring_s * US).astype(np.int64) + np.where(answered, (talk_s * US).astype(np.int64), 0)
        single = np.array([SWITCHES[int(s)].source in SINGLE_ROUTE_SOURCES for s in c])
        has_code = np.array([bool(acc.accountcode[int(a)]) for a in account])
        return Calls(
            switch=c.astype(np.int8),
            account=account.astype(np.int32),
            trunk=trunks.slot_trunk[trunks.first_slot[account]].astype(np.int32),
            accountcode_of=np.where(has_code, account, -1).astype(np.int32),
            call_type=np.full(n, _INTERNATIONAL, np.int8),  # abroad, premium or not: how mediation classes it
            a_number=a_number,
            a_country=np.array([COUNTRY_INDEX[HOME_COUNTRIES[int(x)]] for x in c], np.int8),
            b_number=b_number,
            b_country=b_country.astype(np.int8),
            start_us=start_us,
            answer_us=answer_us,
            end_us=end_us,
            disposition=np.where(answered, ANSWERED, NO_ANSWER).astype(np.int8),
            cause=np.where(answered, 16, 19).astype(np.int16),
            route=(2 * c + ((rng.random(n) < 0.5) & ~single)).astype(np.int16),
        )

    def _burst(self, account: int, start: int, hours: float, per_hour: float) -> np.ndarray:
        n = max(3, int(self.rng.poisson(per_hour * hours)))
        return np.sort(start + self.rng.uniform(0, hours * HOUR, n).astype(np.int64))

    def irsf(self, account: int, day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        rng = self.rng
        start, hours = self._local_start(account, day, mix.night_hours), float(rng.uniform(1.5, 4))
        start_s = self._burst(account, start, hours, 30 * intensity)
        n = len(start_s)
        b, bc = self._numbers(self.hot, n, int(rng.integers(3, 7)))
        talk = np.clip(rng.lognormal(np.log(480), 0.6, n), 20, 3600)
        part = self._calls(np.full(n, account), start_s, b, bc, rng.random(n) < 0.75, talk)
        return part, f"{n} calls in {hours:.1f} h to international premium numbers, intensity {intensity:.2f}"

    def pbx_hacking(self, account: int, day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        rng = self.rng
        start = self._local_start(account, day, mix.off_hours, weekend_any=True)
        channels, hours = max(4, round(int(rng.integers(8, 20)) * intensity)), float(rng.uniform(1, 3))
        starts = []
        for _ in range(channels):  # each hijacked channel dials again as soon as a call ends
            t = start + int(rng.integers(0, 600))
            talks = np.clip(rng.lognormal(np.log(900), 0.5, 40), 30, 3600).astype(np.int64)
            times = t + np.concatenate([[0], np.cumsum(talks[:-1] + 20)])
            starts.append(times[times < start + hours * HOUR])
        start_s = np.sort(np.concatenate(starts))
        n = len(start_s)
        hot = rng.random(n) < 0.2
        b, bc = self._numbers(self.costly, n, int(rng.integers(20, 60)))
        hb, hbc = self._numbers(self.hot, n, 4)
        b, bc = np.where(hot, hb, b), np.where(hot, hbc, bc)
        talk = np.clip(rng.lognormal(np.log(900), 0.5, n), 30, 3600)
        part = self._calls(np.full(n, account), start_s, b, bc, rng.random(n) < 0.85, talk)
        return part, f"{channels} channels for {hours:.1f} h, {n} calls abroad, intensity {intensity:.2f}"

    def wangiri(self, victims: tuple[int, ...], day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        rng, dids = self.rng, self.world.dids
        start = self._local_start(victims[0], day, mix.day_hours)
        callers = max(8, int(rng.integers(20, 50) * intensity))
        account = np.array(victims)[rng.integers(0, len(victims), callers)]
        a_number = dids.geo[dids.geo_first[account] + (rng.random(callers) * dids.geo_count[account]).astype(np.int64)]
        again = rng.random(callers) < 0.3  # some call back twice
        account, a_number = np.concatenate([account, account[again]]), np.concatenate([a_number, a_number[again]])
        n = len(account)
        start_s = start + np.minimum(rng.exponential(1.5 * HOUR, n), 6 * HOUR).astype(np.int64)
        b, bc = self._numbers(self.hot[rng.integers(0, len(self.hot), 1)], n, int(rng.integers(2, 4)))
        talk = rng.uniform(30, 240, n)
        part = self._calls(account, start_s, b, bc, rng.random(n) < 0.9, talk, a_number)
        return part, f"{callers} customers of {len(victims)} accounts call back, {n} calls, intensity {intensity:.2f}"

    def traffic_pumping(self, account: int, day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        rng = self.rng
        start, hours = self._local_start(account, day, mix.day_hours), float(rng.uniform(4, 8))
        start_s = self._burst(account, start, hours, 20 * intensity)
        n = len(start_s)
        pumped = self.hot[np.isin(self.ranges.prefix[self.hot], [5352, 25290])]  # Cuba, Somalia: high termination
        b, bc = self._numbers(pumped, n, int(rng.integers(3, 10)))
        talk = np.clip(rng.lognormal(np.log(360), 0.4, n), 30, 3600)
        part = self._calls(np.full(n, account), start_s, b, bc, rng.random(n) < 0.95, talk)
        return part, f"{n} calls in {hours:.1f} h to a high-termination range, intensity {intensity:.2f}"

    def subscription_fraud(self, account: int, intensity: float) -> tuple[Calls, str]:
        rng = self.rng
        live_from = int(self.world.accounts.traffic_from[account])
        start, hours = live_from + int(rng.integers(2, 12)) * HOUR, float(rng.uniform(24, 48))
        start_s = self._burst(account, start, hours, 12 * intensity)
        n = len(start_s)
        hot = rng.random(n) < 0.6
        b, bc = self._numbers(self.costly, n, 30)
        hb, hbc = self._numbers(self.hot, n, 6)
        b, bc = np.where(hot, hb, b), np.where(hot, hbc, bc)
        talk = np.clip(rng.lognormal(np.log(600), 0.6, n), 20, 3600)
        part = self._calls(np.full(n, account), start_s, b, bc, rng.random(n) < 0.8, talk)
        return part, f"new account: {n} calls in {hours:.0f} h from activation, never pays, intensity {intensity:.2f}"

    # --- the held-out kinds ---------------------------------------------------------------------------

    def wangiri_inbound(self, victims: tuple[int, ...], day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        """One-ring calls from premium numbers abroad to the victims' numbers, then a few callbacks over a day."""
        rng, dids = self.rng, self.world.dids
        start = self._local_start(victims[0], day, mix.day_hours)
        rings = max(20, int(rng.integers(40, 120) * intensity))
        account = np.array(victims)[rng.integers(0, len(victims), rings)]
        did = dids.geo[dids.geo_first[account] + (rng.random(rings) * dids.geo_count[account]).astype(np.int64)]
        callers, caller_country = self._numbers(self.hot, rings, int(rng.integers(4, 9)))
        ring_at = np.sort(start + rng.uniform(0, 2 * HOUR, rings).astype(np.int64))
        inbound = self._calls(account, ring_at, callers, caller_country, np.zeros(rings, bool), np.zeros(rings), did)
        # the premium number rings once and hangs up: the caller is abroad, the callee the victim's DID
        ring_us = (rng.uniform(1, 4, rings) * US).astype(np.int64)
        inbound.end_us = inbound.start_us + ring_us
        inbound.call_type[:] = INBOUND
        home = inbound.a_country.copy()
        inbound.a_number, inbound.a_country = callers, caller_country.astype(np.int8)
        inbound.b_number, inbound.b_country = did, home
        back = rng.random(rings) < 0.2  # a fifth of the missed calls are returned, within a day
        if not back.any():
            back[0] = True
        k = int(back.sum())
        back_at = ring_at[back] + np.minimum(rng.exponential(3 * HOUR, k), 24 * HOUR).astype(np.int64) + 60
        talk = rng.uniform(20, 180, k)
        callbacks = self._calls(
            account[back], back_at, callers[back], caller_country[back], rng.random(k) < 0.9, talk, did[back]
        )
        part = Calls.concat([inbound, callbacks])
        detail = f"{rings} one-ring calls to {len(victims)} accounts, {k} called back, intensity {intensity:.2f}"
        return part, detail

    def pbx_over_capacity(self, account: int, day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        """A hijacked trunk at several times its ordered channels, each call cheap and a few minutes long."""
        rng = self.rng
        trunks = self.world.trunks
        ordered = int(self.world.channels.get(int(trunks.slot_trunk[trunks.first_slot[account]]), 4))
        channels = max(ordered + 6, round(ordered * float(rng.uniform(2, 3)) * intensity))
        start = self._local_start(account, day, mix.off_hours, weekend_any=True)
        hours = float(rng.uniform(2, 5))
        starts = []
        for _ in range(channels):  # every channel redials as soon as its call ends
            t = start + int(rng.integers(0, 300))
            talks = np.clip(rng.lognormal(np.log(150), 0.4, 200), 20, 900).astype(np.int64)
            times = t + np.concatenate([[0], np.cumsum(talks[:-1] + 8)])
            starts.append(times[times < start + hours * HOUR])
        start_s = np.sort(np.concatenate(starts))
        n = len(start_s)
        b, bc = self._numbers(self.cheap, n, int(rng.integers(50, 150)))
        talk = np.clip(rng.lognormal(np.log(150), 0.4, n), 20, 900)
        part = self._calls(np.full(n, account), start_s, b, bc, rng.random(n) < 0.9, talk)
        detail = f"{channels} channels on a trunk of {ordered} for {hours:.1f} h, {n} cheap calls"
        return part, detail

    def sim_box(self, account: int, day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        """Few callers, a distinct domestic mobile per call, near-identical durations, day and night."""
        rng, acc, dids = self.rng, self.world.accounts, self.world.dids
        start, hours = self._local_start(account, day, mix.day_hours), float(rng.uniform(24, 72))
        start_s = self._burst(account, start, hours, 15 * intensity)
        n = len(start_s)
        home = COUNTRY_INDEX[HOME_COUNTRIES[int(acc.country[account])]]
        mobiles = np.flatnonzero((self.ranges.country == home) & (self.ranges.kind == "mobile"))
        b = self.ranges.numbers(rng, mobiles[rng.integers(0, len(mobiles), n)])  # one callee each
        lines = int(rng.integers(1, 4))
        own = dids.geo[dids.geo_first[account] + rng.integers(0, dids.geo_count[account], lines)]
        a_number = own[rng.integers(0, lines, n)]
        target = float(rng.uniform(90, 180))
        talk = rng.normal(target, 0.02 * target, n)  # the box's fixed call length: CV about 2 %
        part = self._calls(np.full(n, account), start_s, b, np.full(n, home), rng.random(n) < 0.95, talk, a_number)
        part.call_type[:] = CALL_TYPES.index("domestic_fixed" if HOME_COUNTRIES[int(acc.country[account])] == "US"
                                             else "domestic_mobile")  # fmt: skip
        detail = f"{lines} callers, {n} distinct mobiles in {hours:.0f} h, about {target:.0f} s each"
        return part, detail

    def slow_persistent(self, account: int, day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        """A few long calls each working day to one premium number, for two weeks."""
        rng = self.rng
        number, country = self._numbers(self.hot, 1, 1)
        starts = []
        for d in range(_SLOW_PERSISTENT_DAYS):
            when = day + timedelta(days=d)
            for _ in range(int(rng.integers(2, 5))):
                starts.append(self._local_start(account, when, (9, 10, 11, 13, 14, 15, 16)))
        start_s = np.sort(np.array(starts, np.int64))
        n = len(start_s)
        talk = np.clip(rng.lognormal(np.log(1500 * intensity), 0.3, n), 300, 3600)
        part = self._calls(np.full(n, account), start_s, np.repeat(number, n), np.repeat(country, n),
                           np.ones(n, bool), talk)  # fmt: skip
        return part, f"{n} long calls to one premium number over {_SLOW_PERSISTENT_DAYS} days"

    def unpriced_hijack(self, account: int, day, mix: Mix, intensity: float) -> tuple[Calls, str]:
        """A burst off business hours to a satellite range no customer plan prices."""
        rng = self.rng
        start = self._local_start(account, day, mix.off_hours, weekend_any=True)
        hours = float(rng.uniform(1, 3))
        start_s = self._burst(account, start, hours, 15 * intensity)
        n = len(start_s)
        prefix, length = _UNPRICED_SATELLITE
        scale = 10 ** (length - len(str(prefix)))
        numbers = prefix * scale + rng.integers(0, scale, int(rng.integers(2, 6)))
        b = numbers[rng.integers(0, len(numbers), n)]
        talk = np.clip(rng.lognormal(np.log(420), 0.5, n), 30, 3600)
        part = self._calls(np.full(n, account), start_s, b, np.full(n, -1), rng.random(n) < 0.8, talk)
        return part, f"{n} calls in {hours:.1f} h to the unpriced range +{prefix}, intensity {intensity:.2f}"


def incident_rows(incidents: list[Incident], calls: Calls, incident_of: np.ndarray, world: World) -> list[tuple]:
    """One row per incident: id, kind, accounts, first call start and last call end (UTC), calls, answered."""
    rows = []
    for i, incident in enumerate(incidents):
        mine = incident_of == i
        start, end = int(calls.start_us[mine].min()) // US, int(calls.end_us[mine].max()) // US
        rows.append(
            (
                incident_id(i),
                incident.kind,
                ";".join(world.accounts.ids[a] for a in sorted(set(incident.accounts))),
                _iso(start),
                _iso(end),
                str(int(mine.sum())),
                str(int((mine & (calls.answer_us >= 0)).sum())),
                incident.detail,
            )
        )
    return rows


def incident_id(index: int) -> str:
    return f"FRAUD-{index + 1:03d}"


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
