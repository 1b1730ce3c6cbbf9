"""The operator's network and customers: switches, accounts, trunks, numbers, assignments, orders.

Builds the `World` that traffic generation draws from (as numpy arrays) together with the CRM and
network files that describe it. Traffic respects a 12-hour margin around every effective date
(`_after`, `_before`), so a call's owner is the same whichever time zone reads a date.
Reference deliveries: a full picture on the start day, then deltas on the day something changes;
a later delivery of the same key (account_id, subscription_id, identifier + valid_from) supersedes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from tools.simulator.numbering import DID_BLOCKS, HOME_COUNTRIES
from tools.simulator.output import RefFile
from tools.simulator.timeline import DAY, HOUR, LateAssignment, Timeline, epoch, iso_utc

NEVER = 2**62  # open end of a traffic window


@dataclass(frozen=True)
class Switch:
    switch_id: str
    source: str
    timezone: str  # zone of the times the switch writes
    country: str
    calling_code: str
    national_prefix: str
    international_prefix: str
    city: str


# Switch i serves HOME_COUNTRIES[i]; the carrier writes UTC although its customers are in New York.
SWITCHES: tuple[Switch, ...] = (
    Switch("ast-lon1", "asterisk", "Europe/London", "GB", "44", "0", "00", "lon"),
    Switch("fs-ber1", "freeswitch", "Europe/Berlin", "DE", "49", "0", "00", "ber"),
    Switch("car-nyc1", "carrier", "UTC", "US", "1", "1", "011", "nyc"),
)
SWITCH_INDEX = {s.switch_id: i for i, s in enumerate(SWITCHES)}
ACCOUNT_ZONES = ("Europe/London", "Europe/Berlin", "America/New_York")  # where customers live, by country
CURRENCIES = ("GBP", "EUR", "USD")
FORMAT_VARIANTS = {"ast-lon1": ("cdr_csv_18", "cdr_csv_21"), "fs-ber1": ("example",), "car-nyc1": ("v1",)}

_COMPANY_WORDS = (
    "Bramble", "Copper", "Harbour", "Juniper", "Kestrel", "Larch", "Meridian", "Nimbus", "Orchard", "Pebble",
    "Quarry", "Rowan", "Saffron", "Thistle", "Umber", "Vale", "Willow", "Yarrow", "Alder", "Beacon",
    "Cinder", "Drift", "Ember", "Fennel", "Granite", "Heron", "Iris", "Lumen", "Marlow", "Nettle",
)  # fmt: skip
_TRADES = (
    "Logistics", "Dental", "Legal", "Telecom", "Media", "Studios", "Analytics", "Freight", "Clinics", "Insurance",
    "Consulting", "Hotels", "Software", "Motors", "Foods", "Architects", "Travel", "Energy", "Print", "Security",
    "Recruitment", "Property", "Engineering", "Health",
)  # fmt: skip
_QUALIFIERS = ("", " Group", " Holdings", " International", " Partners", " Services")
_SUFFIX = ("Ltd", "GmbH", "Inc.")
_STREETS = (
    ("High Street", "Station Road", "Church Lane", "Mill Road", "Victoria Road", "Park Avenue", "Kingsway"),
    ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße", "Goethestraße", "Marktplatz"),
    ("Main Street", "Broadway", "Madison Avenue", "Elm Street", "Maple Avenue", "Washington Street", "Oak Lane"),
)  # fmt: skip
_CITIES = (
    (("London", "EC"), ("Manchester", "M"), ("Birmingham", "B"), ("Leeds", "LS"), ("Bristol", "BS"),
     ("Edinburgh", "EH"), ("Cardiff", "CF")),
    (("Berlin", "10"), ("München", "80"), ("Hamburg", "20"), ("Köln", "50"), ("Frankfurt am Main", "60"),
     ("Leipzig", "04")),
    (("New York", "100"), ("Brooklyn", "112"), ("Buffalo", "142"), ("Boston", "021"), ("Philadelphia", "191"),
     ("Atlanta", "303"), ("Miami", "331")),
)  # fmt: skip

# Caller names shown in clid / caller_id_name, by country. Some carry accents: real names do, and the
# encoding faults need a non-ASCII character to mangle.
CALLER_NAMES: tuple[tuple[str, ...], ...] = (
    ("Oliver Hughes", "Amelia Clarke", "Harry Patel", "Isla Robinson", "George Wright", "Mia Thompson",
     "Noah Walker", "Ava Edwards", "Jack Turner", "Sophie Khan", "Zoë Fletcher", "Siân Morgan", "Chloë Evans",
     "Reception", "Accounts", "Sales Desk"),
    ("Jürgen Müller", "Anna Schmidt", "Lukas Weber", "Lena Fischer", "Jörg Schäfer", "Sophie Wagner",
     "Maximilian Becker", "Hannah Hoffmann", "Günter Koch", "Zentrale", "Buchhaltung", "Kundendienst"),
    ("James Miller", "Emma Johnson", "Michael Davis", "Olivia Garcia", "William Brown", "Ava Martinez",
     "Ethan Wilson", "Sofia Lopez", "Front Desk", "Sales", "Support"),
)  # fmt: skip
NICKNAMES = ("Bud", "Doc", "Sunny", "Ace", "Red", "Duke", "Chip")


@dataclass
class Accounts:
    ids: list[str]
    names: list[str]
    country: np.ndarray  # index into HOME_COUNTRIES (== switch index)
    weight: np.ndarray  # relative traffic, Pareto-like
    created: list[date]
    traffic_from: np.ndarray  # UTC seconds: no calls outside [traffic_from, traffic_to)
    traffic_to: np.ndarray
    accountcode: list[str]  # Asterisk accountcode, '' where the switch has none
    plan: list[str]  # rate plan at the start of the period

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Trunks:
    """Trunk ids (one code per id) and slots: an account may use a trunk inside a traffic window."""

    ids: list[str]
    switch: np.ndarray
    slot_trunk: np.ndarray
    slot_from: np.ndarray
    slot_to: np.ndarray
    first_slot: np.ndarray  # per account; an account's slots are contiguous, the first one is primary
    slot_count: np.ndarray


@dataclass
class Dids:
    geo: np.ndarray  # E.164, customers' own numbers (their CLI)
    geo_first: np.ndarray
    geo_count: np.ndarray
    toll_free: np.ndarray
    tf_first: np.ndarray
    tf_count: np.ndarray


@dataclass(frozen=True)
class LateTrunk:
    event: LateAssignment
    account: int
    trunk: int  # trunk code
    dids: tuple[int, ...]  # new numbers that came with the trunk, assigned in the same late delivery


@dataclass
class Roles:
    """Accounts that play a scripted part in the period's story."""

    anchor: list[int]  # per country: largest always-active account, the fallback owner of traffic
    mover: int = -1  # hands one trunk to `receiver` on trunk_move_day
    receiver: int = -1
    moved_trunk: int = -1
    plan_switcher: int = -1
    late_owners: list[int] = field(default_factory=list)  # one per timeline.late_assignments
    activated: dict[int, date] = field(default_factory=dict)
    cancelled: dict[int, date] = field(default_factory=dict)


@dataclass
class World:
    accounts: Accounts
    trunks: Trunks
    dids: Dids
    roles: Roles
    late_trunks: tuple[LateTrunk, ...]
    ghost_trunks: np.ndarray  # trunk code per switch: trunks nobody ever assigns
    channels: dict[int, int]  # trunk code -> channels ordered
    files: list[RefFile]


def _after(day: date) -> int:
    return epoch(day) + 12 * HOUR


def _before(day: date) -> int:
    return epoch(day) - 12 * HOUR


def build_world(n_accounts: int, timeline: Timeline, rng: np.random.Generator) -> World:
    accounts = _accounts(n_accounts, timeline, rng)
    roles = _roles(accounts, timeline, rng)
    _apply_roles(accounts, roles)
    trunk_counts = 1 + (rng.random(n_accounts) < 0.35) + (rng.random(n_accounts) < 0.12)
    trunk_counts[roles.mover] = max(2, trunk_counts[roles.mover])
    trunks, channels = _trunks(accounts, roles, trunk_counts, timeline, rng)
    dids = _dids(accounts, rng)
    late_trunks, ghost_trunks = _extra_trunks(accounts, roles, trunks, dids, channels, timeline, rng)
    world = World(accounts, trunks, dids, roles, late_trunks, ghost_trunks, channels, [])
    world.files = network_files(timeline) + crm_files(world, timeline)
    return world


def _accounts(n: int, timeline: Timeline, rng: np.random.Generator) -> Accounts:
    country = rng.choice(3, n, p=[0.4, 0.3, 0.3]).astype(np.int8)
    country[:12] = np.arange(12) % 3  # every country has enough customers for the scripted roles
    weight = np.minimum((1 - rng.random(n)) ** (-1 / 1.16), 300.0)
    names = _company_names(country, rng)
    created = [timeline.start - timedelta(days=int(d)) for d in rng.integers(20, 1500, n)]
    plan = [
        ("GB-BIZ-GBP" if u < 0.7 else "GB-SEC-GBP", "DE-FLEX-EUR", "US-BIZ-USD")[c]
        for c, u in zip(country, rng.random(n), strict=True)
    ]
    return Accounts(
        ids=[f"ACC-{i + 1:05d}" for i in range(n)],
        names=names,
        country=country,
        weight=weight,
        created=created,
        traffic_from=np.zeros(n, np.int64),
        traffic_to=np.full(n, NEVER, np.int64),
        accountcode=[f"ac{10000 + i + 1}" if c == 0 else "" for i, c in enumerate(country)],
        plan=plan,
    )


def _company_names(country: np.ndarray, rng: np.random.Generator) -> list[str]:
    space = len(_COMPANY_WORDS) * len(_TRADES) * len(_QUALIFIERS)
    names = [""] * len(country)
    for c in range(3):
        members = np.flatnonzero(country == c)
        picks = (
            rng.permutation(space)[: len(members)] if len(members) <= space else rng.integers(0, space, len(members))
        )
        for member, pick in zip(members, picks, strict=True):
            word, rest = divmod(int(pick), len(_TRADES) * len(_QUALIFIERS))
            trade, qualifier = divmod(rest, len(_QUALIFIERS))
            names[member] = f"{_COMPANY_WORDS[word]} {_TRADES[trade]}{_QUALIFIERS[qualifier]} {_SUFFIX[c]}"
    return names


def _roles(accounts: Accounts, timeline: Timeline, rng: np.random.Generator) -> Roles:
    by_country = [np.flatnonzero(accounts.country == c) for c in range(3)]
    anchor = [int(m[np.argmax(accounts.weight[m])]) for m in by_country]
    taken = set(anchor)

    def pick(candidates: np.ndarray) -> int:
        free = [int(a) for a in candidates if int(a) not in taken]
        choice = free[int(rng.integers(len(free)))]
        taken.add(choice)
        return choice

    roles = Roles(anchor=anchor)
    gb = by_country[0]
    roles.plan_switcher = pick(np.array([a for a in gb if accounts.plan[a] == "GB-BIZ-GBP"] or list(gb)))
    roles.mover, roles.receiver = pick(gb), pick(gb)
    roles.late_owners = [pick(by_country[SWITCH_INDEX[e.switch_id]]) for e in timeline.late_assignments]
    per_day = max(1, len(accounts) // 40)
    everyone = np.arange(len(accounts))
    for day in timeline.activation_days:
        for _ in range(per_day):
            roles.activated[pick(everyone)] = day
    for day in timeline.cancellation_days:
        for _ in range(per_day):
            roles.cancelled[pick(everyone)] = day
    if accounts.plan[roles.plan_switcher] != "GB-BIZ-GBP":
        accounts.plan[roles.plan_switcher] = "GB-BIZ-GBP"
    return roles


def _apply_roles(accounts: Accounts, roles: Roles) -> None:
    for account, day in roles.activated.items():
        accounts.created[account] = day
        accounts.traffic_from[account] = _after(day)
    for account, day in roles.cancelled.items():
        accounts.traffic_to[account] = _before(day)


def _trunks(
    accounts: Accounts, roles: Roles, counts: np.ndarray, timeline: Timeline, rng: np.random.Generator
) -> tuple[Trunks, dict[int, int]]:
    """Trunk ids per switch in account order; the mover's second trunk changes hands on trunk_move_day."""
    ids: list[str] = []
    switch: list[int] = []
    channels: dict[int, int] = {}
    numbers = [1, 1, 1]
    owned: list[list[int]] = []
    for account in range(len(accounts)):
        c = int(accounts.country[account])
        codes = list(range(len(ids), len(ids) + int(counts[account])))
        for code in codes:
            ids.append(f"{SWITCHES[c].city}-tr-{numbers[c]:04d}")
            numbers[c] += 1
            switch.append(c)
            channels[code] = int(np.clip(round(2 + 3 * accounts.weight[account] ** 0.7 + rng.integers(0, 4)), 2, 240))
        owned.append(codes)
    roles.moved_trunk = owned[roles.mover][1]
    move = timeline.trunk_move_day

    slots: list[tuple[int, int, int, int]] = []  # account, trunk code, traffic from, traffic to
    first_slot = np.zeros(len(accounts), np.int64)
    slot_count = np.zeros(len(accounts), np.int64)
    for account, codes in enumerate(owned):
        live_from, live_to = int(accounts.traffic_from[account]), int(accounts.traffic_to[account])
        run = [(account, code, live_from, live_to) for code in codes]
        if account == roles.mover:
            run[1] = (account, roles.moved_trunk, live_from, _before(move))
        if account == roles.receiver:
            run.append((account, roles.moved_trunk, _after(move), live_to))
        first_slot[account], slot_count[account] = len(slots), len(run)
        slots += run
    arr = np.array(slots, np.int64)
    trunks = Trunks(
        ids=ids,
        switch=np.array(switch, np.int8),
        slot_trunk=arr[:, 1],
        slot_from=arr[:, 2],
        slot_to=arr[:, 3],
        first_slot=first_slot,
        slot_count=slot_count,
    )
    return trunks, channels


def _dids(accounts: Accounts, rng: np.random.Generator) -> Dids:
    n = len(accounts)
    geo_count = np.clip(1 + np.floor(accounts.weight * 0.6) + rng.poisson(1.0, n), 1, 60).astype(np.int64)
    tf_count = rng.choice(3, n, p=[0.6, 0.3, 0.1]).astype(np.int64)
    geo, tf = [], []
    used = {key: 0 for key in DID_BLOCKS}
    for account in range(n):
        country = HOME_COUNTRIES[int(accounts.country[account])]
        for kind, count, out in (("geo", geo_count, geo), ("toll_free", tf_count, tf)):
            for _ in range(int(count[account])):
                out.append(DID_BLOCKS[(country, kind)] + used[(country, kind)])
                used[(country, kind)] += 1
    return Dids(
        geo=np.array(geo, np.int64),
        geo_first=np.concatenate([[0], np.cumsum(geo_count)[:-1]]),
        geo_count=geo_count,
        toll_free=np.array(tf, np.int64),
        tf_first=np.concatenate([[0], np.cumsum(tf_count)[:-1]]),
        tf_count=tf_count,
    )


def _extra_trunks(
    accounts: Accounts,
    roles: Roles,
    trunks: Trunks,
    dids: Dids,
    channels: dict[int, int],
    timeline: Timeline,
    rng: np.random.Generator,
) -> tuple[tuple[LateTrunk, ...], np.ndarray]:
    """Trunks the CRM learns about late, and trunks it never learns about (same id pattern as the rest)."""
    numbers = [int(np.sum(trunks.switch == c)) + 1 for c in range(3)]
    late = []
    for event, owner in zip(timeline.late_assignments, roles.late_owners, strict=True):
        c = SWITCH_INDEX[event.switch_id]
        code = len(trunks.ids)
        trunks.ids.append(f"{SWITCHES[c].city}-tr-{numbers[c]:04d}")
        numbers[c] += 1
        channels[code] = 10
        block = DID_BLOCKS[(HOME_COUNTRIES[c], "geo")] + 5_000_000 + 100 * len(late)
        late.append(LateTrunk(event, owner, code, (block, block + 1)))
    ghosts = []
    for c in range(3):
        ghosts.append(len(trunks.ids))
        trunks.ids.append(f"{SWITCHES[c].city}-tr-{numbers[c] + int(rng.integers(3, 9)):04d}")
    trunks.switch = np.concatenate([trunks.switch, [SWITCH_INDEX[t.event.switch_id] for t in late], [0, 1, 2]])
    trunks.switch = trunks.switch.astype(np.int8)
    return tuple(late), np.array(ghosts, np.int64)


# ---------------------------------------------------------------------------------------------------
# Files: network and CRM


def network_files(timeline: Timeline) -> list[RefFile]:
    since = date(timeline.start.year - 2, 1, 1).isoformat()
    upgrade = timeline.upgrade_day.isoformat()

    def row(s: Switch, variant: str, valid_from: str, valid_to: str) -> tuple:
        return (
            s.switch_id,
            s.source,
            s.timezone,
            s.country,
            s.calling_code,
            s.national_prefix,
            s.international_prefix,
            variant,
            valid_from,
            valid_to,
        )

    before = [row(s, FORMAT_VARIANTS[s.switch_id][0], since, "") for s in SWITCHES]
    after = [row(SWITCHES[0], "cdr_csv_18", since, upgrade), row(SWITCHES[0], "cdr_csv_21", upgrade, "")]
    correction_day = timeline.start + timedelta(days=(timeline.skew_to - epoch(timeline.start)) // DAY + 1)
    correction = (
        timeline.skew_switch_id,
        iso_utc(timeline.skew_from),
        iso_utc(timeline.skew_to),
        str(timeline.skew_offset),
        "NTP lost after a reboot; the switch clock ran ahead: true time = recorded time - offset_seconds",
    )
    return [
        RefFile("network", timeline.start, "switches", before),
        RefFile("network", timeline.upgrade_day, "switches", [*before[1:], *after]),
        RefFile("network", correction_day, "clock_corrections", [correction]),
    ]


def crm_files(world: World, timeline: Timeline) -> list[RefFile]:
    acc, roles = world.accounts, world.roles
    start = timeline.start
    files: list[RefFile] = []

    def account_row(a: int, status: str) -> tuple:
        c = int(acc.country[a])
        street = _STREETS[c][a % len(_STREETS[c])]
        city, area = _CITIES[c][(a * 5 + 3) % len(_CITIES[c])]
        number = 1 + (a * 37) % 180
        address = f"{street} {number}" if c == 1 else f"{number} {street}"
        postcode = _postcode(c, area, a)
        slug = acc.names[a].split(" ")[0].lower() + acc.names[a].split(" ")[1].lower()
        return (
            acc.ids[a],
            acc.names[a],
            HOME_COUNTRIES[c],
            CURRENCIES[c],
            ACCOUNT_ZONES[c],
            f"billing@{slug}.example",
            address,
            city,
            postcode,
            acc.created[a].isoformat(),
            status,
        )

    initial = [a for a in range(len(acc)) if a not in roles.activated]
    files.append(RefFile("crm", start, "accounts", [account_row(a, "active") for a in initial]))
    assignments, subscriptions = _assignments(world, timeline), _subscriptions(world, timeline)
    files.append(RefFile("crm", start, "service_assignments", [r for d, r in assignments if d == start]))
    files.append(RefFile("crm", start, "subscriptions", [r for d, r in subscriptions if d == start]))
    later = sorted({d for d, _ in assignments + subscriptions if d != start} | set(roles.cancelled.values()))
    for day in later:
        changed = [a for a, d in roles.activated.items() if d == day]
        closed = [a for a, d in roles.cancelled.items() if d == day]
        rows = [account_row(a, "active") for a in changed] + [account_row(a, "closed") for a in closed]
        if rows:
            files.append(RefFile("crm", day, "accounts", sorted(rows)))
        for entity, dated in (("service_assignments", assignments), ("subscriptions", subscriptions)):
            rows = [r for d, r in dated if d == day]
            if rows:
                files.append(RefFile("crm", day, entity, rows))
    return files


def _postcode(c: int, area: str, a: int) -> str:
    if c == 0:
        return f"{area}{1 + a % 9} {a % 10}{'ABDEFGHJLNPQRSTUWXYZ'[a % 20]}{'ABDEFGHJLNPQRSTUWXYZ'[(a * 3) % 20]}"
    if c == 1:
        return f"{area}{(a * 13) % 1000:03d}"
    return f"{area}{(a * 7) % 100:02d}"


def _assignments(world: World, timeline: Timeline) -> list[tuple[date, tuple]]:
    """(delivery day, row) for every service assignment version."""
    acc, roles, trunks, dids = world.accounts, world.roles, world.trunks, world.dids
    out: list[tuple[date, tuple]] = []

    def emit(kind: str, ident: str, a: int, valid_from: date, valid_to: date | None, delivered: date) -> None:
        switch = SWITCHES[int(acc.country[a])].switch_id
        row = (kind, ident, switch, acc.ids[a], valid_from.isoformat(), valid_to.isoformat() if valid_to else "")
        out.append((delivered, row))

    for a in range(len(acc)):
        since = acc.created[a]
        delivered = roles.activated.get(a, timeline.start)
        ends = roles.cancelled.get(a)
        identifiers: list[tuple[str, str, date, date | None]] = []
        for s in range(int(trunks.first_slot[a]), int(trunks.first_slot[a] + trunks.slot_count[a])):
            code = int(trunks.slot_trunk[s])
            if a == roles.receiver and code == roles.moved_trunk:
                identifiers.append(("trunk", trunks.ids[code], timeline.trunk_move_day, None))
            elif a == roles.mover and code == roles.moved_trunk:
                identifiers.append(("trunk", trunks.ids[code], since, timeline.trunk_move_day))
            else:
                identifiers.append(("trunk", trunks.ids[code], since, None))
        for k in range(int(dids.geo_count[a])):
            identifiers.append(("did", str(dids.geo[dids.geo_first[a] + k]), since, None))
        for k in range(int(dids.tf_count[a])):
            identifiers.append(("did", str(dids.toll_free[dids.tf_first[a] + k]), since, None))
        if acc.accountcode[a]:
            identifiers.append(("accountcode", acc.accountcode[a], since, None))
        for kind, ident, valid_from, valid_to in identifiers:
            emit(kind, ident, a, valid_from, valid_to, delivered)
            if ends and valid_to is None:  # the cancellation re-delivers the row with its end
                emit(kind, ident, a, valid_from, ends, ends)
    for late in world.late_trunks:
        ev = late.event
        emit("trunk", trunks.ids[late.trunk], late.account, ev.valid_from, None, ev.delivered)
        for number in late.dids:
            emit("did", str(number), late.account, ev.valid_from, None, ev.delivered)
    return out


def _subscriptions(world: World, timeline: Timeline) -> list[tuple[date, tuple]]:
    acc, roles, trunks, dids = world.accounts, world.roles, world.trunks, world.dids
    out: list[tuple[date, tuple]] = []
    counter = {"sub": 0, "order": 0}

    def new_order() -> str:
        counter["order"] += 1
        return f"ORD-{counter['order']:06d}"

    def emit(
        a: int, order: str, product: str, qty: int, start: date, end: date | None, ordered: date, delivered: date
    ) -> None:
        counter["sub"] += 1
        row = [
            f"SUB-{counter['sub']:06d}",
            order,
            acc.ids[a],
            product,
            str(qty),
            start.isoformat(),
            end.isoformat() if end else "",
            ordered.isoformat(),
        ]
        out.append((delivered, tuple(row)))
        cancelled = roles.cancelled.get(a)
        if cancelled and end is None:
            out.append((cancelled, (*row[:6], cancelled.isoformat(), row[7])))

    bundles = ("BUNDLE-NAT-1000", "BUNDLE-MOB-500", "BUNDLE-INTL-300")
    for a in range(len(acc)):
        since = acc.created[a]
        activated = a in roles.activated
        delivered = roles.activated.get(a, timeline.start)
        ordered = since - timedelta(days=3 + a % 5)
        order = new_order()
        if activated:
            emit(a, order, "TRUNK-SETUP", 1, since, since, ordered, delivered)
        for s in range(int(trunks.first_slot[a]), int(trunks.first_slot[a] + trunks.slot_count[a])):
            code = int(trunks.slot_trunk[s])
            if a == roles.receiver and code == roles.moved_trunk:
                move = timeline.trunk_move_day
                emit(
                    a,
                    new_order(),
                    "SIP-CHANNEL",
                    world.channels[code],
                    move,
                    None,
                    move - timedelta(days=5),
                    timeline.start,
                )
            elif a == roles.mover and code == roles.moved_trunk:
                emit(a, order, "SIP-CHANNEL", world.channels[code], since, timeline.trunk_move_day, ordered, delivered)
            else:
                emit(a, order, "SIP-CHANNEL", world.channels[code], since, None, ordered, delivered)
        emit(a, order, "DID-GEO", int(dids.geo_count[a]), since, None, ordered, delivered)
        if dids.tf_count[a]:
            emit(a, order, "DID-TOLLFREE", int(dids.tf_count[a]), since, None, ordered, delivered)
        if (a * 2654435761) % 100 < 35:  # about a third buy a minute bundle
            emit(a, order, bundles[(a // 3) % 3], 1, since, None, ordered, delivered)
    for late in world.late_trunks:
        ev, order = late.event, new_order()
        ordered = ev.valid_from - timedelta(days=2)
        emit(late.account, order, "TRUNK-SETUP", 1, ev.valid_from, ev.valid_from, ordered, ev.delivered)
        emit(late.account, order, "SIP-CHANNEL", world.channels[late.trunk], ev.valid_from, None, ordered, ev.delivered)
        emit(late.account, order, "DID-GEO", len(late.dids), ev.valid_from, None, ordered, ev.delivered)
    return out
