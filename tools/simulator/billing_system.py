"""The billing system of record: what the operator's BSS actually invoiced, with leakage injected.

Revenue assurance compares three figures (docs/assurance.md): expected (tollhouse's own rating and the
order inventory), billed (this export) and collected (payments). The BSS bills what mediation hands it:
- every answered call of an account with billable seconds (outbound, and inbound to its toll-free numbers)
  except those mediation never passes on (a line rejected, a call held in suspense), on the invoice of the
  account's local calendar month, at the price the published tariffs give it. The price comes from
  tollhouse's `rate` tool on the landed catalog: the simulator uses the tariff contract's reference
  implementation rather than a second one, and prices the true calls, not tollhouse's mediated ones;
- every subscription's charge per month: recurring and bundle products prorated by active days, one-time
  products in the month they start (docs/billing.md), to 6 decimals, then cents.
The lines carry list charges: bundle allowances and volume tiers are not in the export. The catalogue's
promotions are: one `discount` line per promotion and invoice (negative; product_id names the promotion),
a percentage of the invoice's own lines of the promotion's charge type for the days it is valid (docs/billing.md:
recurring and bundle lines for the days both the subscription, as billed, and the promotion are active; one-time
lines whose subscription starts while it is valid; usage lines of calls answered, local date, while it is valid),
rounded once. The header adds tax per charge type at the jurisdiction's rates, a discount taxed under its
promotion's charge type (as tollhouse taxes it).

Leakage injected, each on calls or subscriptions no other fault touched, every one a row of
ground_truth/leakage.csv with its expected and billed amount:
- unbilled_call: a call left off the invoice;
- wrong_rate: a call billed at its plan but at another price (keyed-in rate errors, both directions);
- zero_rated: a call billed at zero;
- duplicate_line: a call billed twice;
- wrong_plan: one account's calls for three days billed at another plan of its currency;
- subscription_not_billed: a subscription's month left off;
- billed_after_cancellation: cancelled subscriptions billed on as if active (the cancellation month in full
  and the months after).
One export per issue day (the 1st after the period): billing_export/<day>/invoices.csv and invoice_lines.csv.
"""

from __future__ import annotations

import csv
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.ingestion.layouts import LAYOUTS
from tools.simulator.faults import fault_count
from tools.simulator.finance import tax_rates
from tools.simulator.numbering import HOME_COUNTRIES
from tools.simulator.output import Landing
from tools.simulator.reference import ACCOUNT_ZONES, CURRENCIES, SWITCHES, World
from tools.simulator.tariffs import PRODUCTS
from tools.simulator.timeline import add_months
from tools.simulator.traffic import ANSWERED, Calls

CENT = Decimal("0.01")
INVOICE_COLUMNS = next(lay.columns for lay in LAYOUTS if lay.table == "billing_export__invoices")
LINE_COLUMNS = next(lay.columns for lay in LAYOUTS if lay.table == "billing_export__invoice_lines")
LEAKAGE_COLUMNS = (
    "leak_id",
    "kind",
    "account_id",
    "billing_period",
    "currency",
    "source",
    "record_key",
    "call_id",
    "subscription_id",
    "expected_amount",
    "billed_amount",
    "leakage_amount",
    "direction",
    "detail",
)
LEAK_KINDS = (
    "unbilled_call",
    "wrong_rate",
    "zero_rated",
    "duplicate_line",
    "wrong_plan",
    "subscription_not_billed",
    "billed_after_cancellation",
)
# per-call fault counts at the reference traffic (faults.REFERENCE_CALLS); they grow with its square root
CALL_FAULTS = {"unbilled_call": 40, "wrong_rate": 40, "zero_rated": 25, "duplicate_line": 25}
WRONG_RATE_FACTORS = (Decimal("0.5"), Decimal("0.8"), Decimal("1.25"), Decimal("2"))
WRONG_PLAN_DAYS = 3
NOT_BILLED_SUBSCRIPTIONS = 2


@dataclass(frozen=True)
class Leak:
    kind: str
    account_id: str
    period: date
    currency: str
    expected: Decimal
    billed: Decimal
    detail: str
    source: str = ""
    record_key: str = ""
    call_id: int | None = None  # the true call (ground_truth/calls.parquet)
    subscription_id: str = ""

    def row(self, n: int) -> tuple:
        gap = self.expected - self.billed
        return (
            f"LEAK-{n:06d}",
            self.kind,
            self.account_id,
            self.period.isoformat(),
            self.currency,
            self.source,
            self.record_key,
            "" if self.call_id is None else str(self.call_id),
            self.subscription_id,
            format(self.expected, "f"),
            format(self.billed, "f"),
            format(abs(gap), "f"),
            "under_billing" if gap > 0 else "over_billing" if gap < 0 else "none",
            self.detail,
        )


def _period_index(world: World, calls: Calls, answer: np.ndarray, periods: list[date]) -> np.ndarray:
    """Per call, the index in `periods` of its account's local calendar month at answer; -1 outside."""
    out = np.full(len(calls), -1, np.int64)
    owned = np.flatnonzero(calls.account >= 0)
    zone_of = np.full(len(calls), -1, np.int64)
    zone_of[owned] = world.accounts.country[calls.account[owned]]
    months = [*periods, add_months(periods[-1], 1)]
    for z, zone in enumerate(ACCOUNT_ZONES):
        mine = np.flatnonzero(zone_of == z)
        tz = zoneinfo.ZoneInfo(zone)
        bounds = np.array([int(datetime(m.year, m.month, 1, tzinfo=tz).timestamp()) for m in months])
        k = np.searchsorted(bounds, answer[mine], side="right") - 1
        out[mine] = np.where((k >= 0) & (k < len(periods)), k, -1)
    return out


def _rate(con: duckdb.DuckDBPyConnection, catalog: Path) -> None:
    """Price the table `requests` against the landed catalog into table `rated` (call_id, cost,
    rounding_decimals, rate_plan_id); calls the catalog cannot price are left out. One rating run for
    every request: the tariff tables are built once."""
    from orchestration.rating.what_if import rate_against_catalog  # the tariff contract's reference implementation

    rated = rate_against_catalog(catalog, con.execute("select * from requests").to_arrow_table())
    con.register("rated_requests", rated)
    con.execute(
        """create table rated as select call_id, cost, rounding_decimals, rate_plan_id
           from rated_requests where cost is not null"""
    )
    con.unregister("rated_requests")


@dataclass
class PricedCalls:
    """What the BSS prices before it bills: every call it could bill (answered, owned, in a billing period;
    table `truth` of `con`, the true call index of each row in `ids`) at its account's plan, and the
    wrong-plan account's window at the other plan (table `rated`)."""

    con: duckdb.DuckDBPyConnection
    ids: np.ndarray
    wrong: tuple[str, str, str] | None  # account, its plan, the plan billed instead


def price_calls(world: World, calls: Calls, periods: list[date], catalog: Path) -> PricedCalls:
    """Price every call the BSS could bill against the landed catalog. It needs no switch file, so the
    simulator runs it (DuckDB, which releases the GIL) while the files are rendered."""
    acc = world.accounts
    _, answer, end = calls.seconds()
    period = _period_index(world, calls, answer, periods)
    billable = (calls.account >= 0) & (calls.disposition == ANSWERED)  # inbound toll-free: its owner pays
    billable &= (answer >= 0) & (end > answer) & (period >= 0)
    ids = np.flatnonzero(billable)
    country = acc.country[calls.account[ids]]
    con = duckdb.connect()
    con.register(  # built with Arrow kernels, not Python lists: it runs beside the rendering, which needs the GIL
        "truth",
        pa.table(
            {
                "call_id": pa.array(ids + 1),
                "account_id": pa.array(acc.ids, pa.string()).take(pa.array(calls.account[ids])),
                "period_no": pa.array(period[ids]),
                "currency": pa.array(CURRENCIES, pa.string()).take(pa.array(country)),
                "source": pa.array([s.source for s in SWITCHES], pa.string()).take(pa.array(calls.switch[ids])),
                "b_number": pc.cast(pa.array(calls.b_number[ids]), pa.string()),
                "answer_at": pa.array(answer[ids] * 1_000_000, pa.timestamp("us", tz="UTC")),
                "billable_seconds": pa.array((end - answer)[ids]),
            }
        ),
    )
    # wrong_plan: one business account's three days on the other plan of its currency, priced in the
    # same run as every call at its own plan ('W' + call id)
    wrong = _wrong_plan_account(world)
    wrong_account, _right_plan, wrong_plan = wrong or (None, None, None)
    first = datetime.combine(periods[0] + timedelta(days=9), datetime.min.time(), tzinfo=UTC).timestamp()
    con.execute(
        """create table requests as
           select cast(call_id as varchar) as call_id, null::varchar as rate_plan_id, account_id, b_number,
                  strftime(answer_at, '%Y-%m-%dT%H:%M:%SZ') as answer_at, billable_seconds
           from truth
           union all
           select 'W' || call_id, $wrong_plan, null, b_number, strftime(answer_at, '%Y-%m-%dT%H:%M:%SZ'),
                  billable_seconds
           from truth where account_id = $account and epoch(answer_at) between $from and $to""",
        {"wrong_plan": wrong_plan, "account": wrong_account, "from": int(first),
         "to": int(first) + WRONG_PLAN_DAYS * 86400},
    )  # fmt: skip
    _rate(con, catalog)
    return PricedCalls(con, ids, wrong)


def export_billing(
    priced: PricedCalls,
    world: World,
    calls: Calls,
    call_keys: pa.Array,
    lost: np.ndarray,
    landing: Landing,
    periods: list[date],
    rng: np.random.Generator,
) -> tuple[list[Leak], dict[tuple[str, date], Decimal]]:
    """Bill the priced calls of `periods` (the first months of those priced) but those mediation never passes
    on (`lost`, per true call): write the BSS's export files to the landing zone; return the leakage injected
    and each invoice's total (what the customer was asked to pay) by (account_id, period)."""
    con, ids, wrong = priced.con, priced.ids, priced.wrong
    passed = ~lost[ids]
    con.register(
        "passed_on",
        pa.table(
            {
                "call_id": pa.array(ids[passed] + 1),
                "record_key": call_keys.take(pa.array(ids[passed])).cast(pa.string()),
            }
        ),
    )
    con.execute(
        """create table usage as
           select t.*, p.record_key, r.cost, r.rounding_decimals, r.rate_plan_id
           from truth t join passed_on p using (call_id) join rated r on r.call_id = cast(t.call_id as varchar)
           where t.period_no < $billed_periods""",
        {"billed_periods": len(periods)},
    )
    leaks: list[Leak] = []
    billed: dict[int, Decimal | None] = {}  # call -> amount billed instead (None: not billed)
    repeated: set[int] = set()
    plan_of: dict[int, str] = {}

    def usage_rows(where: str, params: dict | None = None) -> list[tuple]:
        return con.execute(
            "select call_id, account_id, period_no, currency, source, record_key, cost, rate_plan_id, "
            f"rounding_decimals from usage where {where} order by call_id",
            params or {},
        ).fetchall()

    def leak(kind: str, row: tuple, billed_amount: Decimal, detail: str) -> Leak:
        call_id, account, p, currency, source, key, cost, _plan, _decimals = row
        return Leak(kind, account, periods[p], currency, cost, billed_amount, detail, source, key, call_id)

    if wrong is not None:  # the account's calls in the window that its own plan priced
        _account, right_plan, wrong_plan = wrong
        wrong_costs = dict(
            con.execute("select cast(substr(call_id, 2) as bigint), cost from rated where call_id like 'W%'").fetchall()
        )
        for row in usage_rows("call_id in (select unnest($ids)) and rate_plan_id = $plan",
                              {"ids": sorted(wrong_costs), "plan": right_plan}):  # fmt: skip
            cost = wrong_costs[row[0]]
            billed[row[0]], plan_of[row[0]] = cost, wrong_plan
            leaks.append(leak("wrong_plan", row, cost, f"billed at {wrong_plan}, the account's plan is {right_plan}"))

    # per-call faults on calls with a price, none of them touched twice
    pool = con.execute("select call_id from usage where cost > 0 order by call_id").fetchnumpy()["call_id"]
    pool = pool[~np.isin(pool, np.fromiter(billed, np.int64, len(billed)))]
    picks = rng.permutation(pool)
    taken = 0
    for kind, base in CALL_FAULTS.items():
        n = fault_count(base, len(calls))
        chosen = np.sort(picks[taken : taken + n])
        taken += n
        for row in usage_rows("call_id in (select unnest($ids))", {"ids": chosen.tolist()}):
            call_id, cost, decimals = row[0], row[6], row[8]
            match kind:
                case "unbilled_call":
                    billed[call_id] = None
                    leaks.append(leak(kind, row, Decimal(0), "left off the invoice"))
                case "zero_rated":
                    billed[call_id] = Decimal(0).quantize(cost)
                    leaks.append(leak(kind, row, billed[call_id], "billed at zero"))
                case "duplicate_line":
                    repeated.add(call_id)
                    leaks.append(leak(kind, row, 2 * cost, "billed twice"))
                case "wrong_rate":
                    factor = WRONG_RATE_FACTORS[int(rng.integers(len(WRONG_RATE_FACTORS)))]
                    unit = Decimal(1).scaleb(-decimals)
                    amount = (cost * factor).quantize(unit, ROUND_HALF_UP).quantize(cost)
                    if amount == cost:  # too small to show a 0.5 or 0.8 error at the plan's decimals
                        factor, amount = Decimal(2), 2 * cost
                    billed[call_id] = amount
                    leaks.append(leak(kind, row, amount, f"billed at {factor}x its rate"))

    charges, charge_leaks, billed_dates = _charges(world, periods, rng)
    leaks += charge_leaks
    _invoice(con, world, periods, billed, repeated, plan_of, charges)
    _discount(con, world, periods, charges, billed_dates, landed_promotions(landing.root))
    _invoice_headers(con)
    totals = {
        (account, periods[p]): total
        for account, p, total in con.execute("select account_id, period_no, total_amount from invoices").fetchall()
    }
    for p in range(len(periods)):
        for table, path in _paths(periods[p]).items():
            _write_csv(con, table, p, landing.claim(path))
    con.close()
    return leaks, totals


def _wrong_plan_account(world: World) -> tuple[str, str, str] | None:
    """(account, its plan, the plan billed instead): the first GB business account that plays no other part."""
    roles = world.roles
    special = {roles.mover, roles.receiver, roles.plan_switcher, *roles.late_owners, *roles.activated, *roles.cancelled}
    for a, plan in enumerate(world.accounts.plan):
        if plan == "GB-BIZ-GBP" and a not in special:
            return world.accounts.ids[a], plan, "GB-SEC-GBP"
    return None


def _subscription_versions(world: World) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """The first and the latest delivered version of every subscription row."""
    files = sorted((f for f in world.files if (f.source, f.entity) == ("crm", "subscriptions")), key=lambda f: f.day)
    first: dict[str, tuple] = {}
    latest: dict[str, tuple] = {}
    for f in files:
        for row in f.rows:
            first.setdefault(row[0], row)
            latest[row[0]] = row
    return first, latest


def _charge(charge_type: str, amount: Decimal, start: date, end: date | None, period: date) -> Decimal | None:
    """A subscription's charge for `period` as docs/billing.md bills it (to 6 decimals, then cents);
    None when the subscription is not charged in it. `amount` is quantity x unit price."""
    following = add_months(period, 1)
    if charge_type == "one_time":
        exact = amount if period <= start < following else None
    else:
        stop = min(end or following, following)
        days = (stop - max(start, period)).days
        if start >= following or (end or following) <= period or (end or following) <= start or days <= 0:
            return None
        exact = amount * days / (following - period).days
    if exact is None:
        return None
    return exact.quantize(Decimal("0.000001"), ROUND_HALF_UP).quantize(CENT, ROUND_HALF_UP)


def _charges(
    world: World, periods: list[date], rng: np.random.Generator
) -> tuple[list[tuple], list[Leak], dict[str, tuple[date, date | None]]]:
    """Charge lines (account_id, period_no, subscription_id, product_id, charge_type, quantity, amount,
    currency) the BSS issues, the leaks among them, and each subscription's dates as billed (start, end)."""
    acc = world.accounts
    index = {account_id: a for a, account_id in enumerate(acc.ids)}
    products = {p[0]: (p[2], p[4]) for p in PRODUCTS if p[4]}
    first, latest = _subscription_versions(world)
    lines: list[tuple] = []
    leaks: list[Leak] = []
    correct: list[int] = []  # lines open to the not-billed fault
    dates: dict[str, tuple[date, date | None]] = {}
    for sub_id, row in sorted(latest.items()):
        a = index[row[2]]
        charge_type, prices = products[row[3]]
        currency = CURRENCIES[int(acc.country[a])]
        amount = Decimal(prices[int(acc.country[a])]) * int(row[4])
        start = date.fromisoformat(row[5])
        end = date.fromisoformat(row[6]) if row[6] else None
        cancelled = charge_type != "one_time" and end is not None and not first[sub_id][6]
        dates[sub_id] = (start, None if cancelled else end)
        for p, period in enumerate(periods):
            if period < acc.created[a].replace(day=1):
                continue
            expected = _charge(charge_type, amount, start, end, period)
            billed = _charge(charge_type, amount, start, None, period) if cancelled else expected
            if billed is None:
                continue
            line = (row[2], p, sub_id, row[3], charge_type, row[4], billed, currency)
            if billed != expected:
                leaks.append(
                    Leak(
                        "billed_after_cancellation",
                        row[2],
                        period,
                        currency,
                        expected or Decimal("0.00"),
                        billed,
                        f"cancelled from {end}, billed as if active",
                        subscription_id=sub_id,
                    )
                )
            elif charge_type != "one_time" and a not in world.roles.cancelled:
                correct.append(len(lines))
            lines.append(line)
    dropped = set(rng.choice(correct, size=min(NOT_BILLED_SUBSCRIPTIONS, len(correct)), replace=False).tolist())
    for i in sorted(dropped):
        account, p, sub_id, product, _type, _qty, amount, currency = lines[i]
        leaks.append(
            Leak(
                "subscription_not_billed",
                account,
                periods[p],
                currency,
                amount,
                Decimal("0.00"),
                f"{product} never billed for the month",
                subscription_id=sub_id,
            )
        )
    return [line for i, line in enumerate(lines) if i not in dropped], leaks, dates


def _invoice(
    con: duckdb.DuckDBPyConnection,
    world: World,
    periods: list[date],
    billed: dict[int, Decimal | None],
    repeated: set[int],
    plan_of: dict[int, str],
    charges: list[tuple],
) -> None:
    """Tables `lines` (every invoice line, numbered) and `invoices` (headers: net by charge type, rounded
    to cents, tax at the jurisdiction's rates per charge type, total)."""
    con.execute("create table changed (call_id bigint, amount decimal(18, 6), omitted boolean, rate_plan_id varchar)")
    rows = [(c, a, a is None, plan_of.get(c)) for c, a in billed.items()]
    if rows:
        _insert(con, "changed", rows)
    con.execute("create table repeated (call_id bigint)")
    if repeated:
        _insert(con, "repeated", [(c,) for c in sorted(repeated)])
    con.execute(
        """create table charges (account_id varchar, period_no bigint, subscription_id varchar, product_id varchar,
           charge_type varchar, quantity varchar, amount decimal(18, 6), currency varchar)"""
    )
    if charges:
        _insert(con, "charges", charges)
    con.execute("create table periods (period_no bigint, billing_period date)")
    _insert(con, "periods", list(enumerate(periods)))
    index = {account_id: a for a, account_id in enumerate(world.accounts.ids)}
    rates = [
        (account_id, p, charge_type, rate)
        for account_id, a in index.items()
        for p, period in enumerate(periods)
        for charge_type, rate in tax_rates(HOME_COUNTRIES[int(world.accounts.country[a])], period).items()
    ]
    con.execute(
        "create table tax_rates (account_id varchar, period_no bigint, charge_type varchar, rate decimal(9, 6))"
    )
    _insert(con, "tax_rates", rates)
    con.execute(
        """
        create table lines as
        with usage_lines as (
            select u.account_id, u.period_no, 'usage' as line_type, u.source, u.record_key,
                   coalesce(c.rate_plan_id, u.rate_plan_id) as rate_plan_id, null::varchar as subscription_id,
                   'VOICE-USAGE' as product_id, cast(u.billable_seconds as varchar) as quantity,
                   coalesce(c.amount, u.cost) as amount, u.currency, u.call_id as sort_key, 0 as copy
            from usage u left join changed c using (call_id)
            where not coalesce(c.omitted, false)
            union all
            select u.account_id, u.period_no, 'usage', u.source, u.record_key, u.rate_plan_id, null, 'VOICE-USAGE',
                   cast(u.billable_seconds as varchar), u.cost, u.currency, u.call_id, 1
            from usage u join repeated using (call_id)
        ),
        charge_lines as (
            select account_id, period_no, charge_type, null, null, null, subscription_id, product_id, quantity,
                   amount, currency, null::bigint, 0
            from charges
        ),
        everything as (select * from usage_lines union all select * from charge_lines)
        select e.*, e.line_type as tax_type, p.billing_period,
               'INV-' || strftime(p.billing_period, '%Y%m') || '-' || e.account_id as invoice_number,
               row_number() over (partition by e.account_id, e.period_no
                                  order by e.line_type = 'usage' desc, e.sort_key, e.copy, e.subscription_id)
                   as line_no
        from everything e join periods p using (period_no)
        """
    )


def landed_promotions(root: Path) -> list[tuple[str, str, str, Decimal, date, date | None]]:
    """The landed catalogue's promotions, the latest version of each (promotion_id, account_id, charge_type,
    percent, valid_from, valid_to or None)."""
    latest: dict[str, dict[str, str]] = {}
    for path in sorted(root.glob("catalog/*/promotions.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            latest.update({row["promotion_id"]: row for row in csv.DictReader(handle)})
    return [
        (r["promotion_id"], r["account_id"], r["charge_type"], Decimal(r["discount_percent"]),
         date.fromisoformat(r["valid_from"]), date.fromisoformat(r["valid_to"]) if r["valid_to"] else None)
        for _, r in sorted(latest.items())
    ]  # fmt: skip


def subscription_base(
    charge_type: str, amount: Decimal, start: date, end: date | None, period: date, valid: tuple[date, date | None]
) -> Decimal:
    """The part of a subscription line (`amount`, as billed for `period`) a promotion valid [from, to) applies
    to: a one-time line whole when the subscription starts while it is valid; a recurring or bundle line
    pro rata the days both are active over the days the line charges, to 6 decimals. RA-26 re-computes it so
    (int_ra_discounts_recomputed)."""
    following = add_months(period, 1)
    valid_from, valid_to = valid[0], valid[1] or following
    if charge_type == "one_time":
        return amount if valid_from <= start < valid_to else Decimal(0)
    lo, hi = max(start, period), min(end or following, following)
    if hi <= lo:  # dates that leave the line no day (billed after its end): the line charges the period
        lo, hi = period, following
    active = (hi - lo).days
    overlap = (min(hi, valid_to) - max(lo, valid_from)).days
    if active <= 0 or overlap <= 0:
        return Decimal(0)
    return (amount * min(overlap, active) / active).quantize(Decimal("0.000001"), ROUND_HALF_UP)


def promotion_discount(base: Decimal, percent: Decimal) -> Decimal:
    """A promotion's discount: `percent` of its base, rounded once to cents."""
    return (base * percent / 100).quantize(CENT, ROUND_HALF_UP)


def _discount(
    con: duckdb.DuckDBPyConnection,
    world: World,
    periods: list[date],
    charges: list[tuple],
    billed_dates: dict[str, tuple[date, date | None]],
    promotions: list[tuple[str, str, str, Decimal, date, date | None]],
) -> None:
    """Add one `discount` line per promotion and invoice to table `lines` (docs/billing.md), its tax type the
    promotion's charge type: the percentage of the base, rounded once, negative."""
    if not promotions:
        return
    con.execute(
        "create table promotions (promotion_id varchar, account_id varchar, charge_type varchar, "
        "discount_percent decimal(9, 4), valid_from date, valid_to date)"
    )
    _insert(con, "promotions", promotions)
    con.execute("create table zones (account_id varchar, zone varchar)")
    _insert(con, "zones", [(a, ACCOUNT_ZONES[int(c)]) for a, c in zip(world.accounts.ids, world.accounts.country,
                                                                        strict=True)])  # fmt: skip
    base: dict[tuple[str, int], Decimal] = dict.fromkeys(
        ((pid, p) for pid, *_ in promotions for p in range(len(periods))), Decimal(0)
    )
    usage = con.execute(
        """select p.promotion_id, l.period_no, sum(l.amount)
           from lines l join usage u on u.call_id = l.sort_key
           join promotions p on p.account_id = l.account_id and p.charge_type = 'usage'
           join zones z on z.account_id = l.account_id
           where l.line_type = 'usage'
             and cast(timezone(z.zone, u.answer_at) as date) >= p.valid_from
             and (p.valid_to is null or cast(timezone(z.zone, u.answer_at) as date) < p.valid_to)
           group by all"""
    ).fetchall()
    for pid, p, amount in usage:
        base[(pid, p)] += amount
    by_account: dict[tuple[str, str], list[tuple]] = {}
    for promo in promotions:
        by_account.setdefault((promo[1], promo[2]), []).append(promo)
    for account, p, sub_id, _product, charge_type, _qty, amount, _currency in charges:
        for pid, _a, _t, _pct, valid_from, valid_to in by_account.get((account, charge_type), []):
            start, end = billed_dates[sub_id]
            base[(pid, p)] += subscription_base(charge_type, amount, start, end, periods[p], (valid_from, valid_to))
    of = {promo[0]: promo for promo in promotions}
    rows = []
    for (pid, p), amount in sorted(base.items()):
        discount = promotion_discount(amount, of[pid][3])
        if discount != 0:
            rows.append((pid, p, -discount))
    con.execute("create table discounts (promotion_id varchar, period_no bigint, amount decimal(18, 6))")
    _insert(con, "discounts", rows)
    con.execute(
        """
        insert into lines by name
        select p.account_id, d.period_no, 'discount' as line_type, p.promotion_id as product_id,
               '1' as quantity, d.amount, heads.currency, p.charge_type as tax_type, heads.billing_period,
               heads.invoice_number,
               heads.last_line + row_number() over (partition by heads.invoice_number order by p.promotion_id)
                   as line_no
        from discounts d join promotions p using (promotion_id)
        join (select invoice_number, account_id, period_no, any_value(currency) as currency,
                     any_value(billing_period) as billing_period, max(line_no) as last_line
              from lines group by all) heads on heads.account_id = p.account_id and heads.period_no = d.period_no
        """
    )


def _invoice_headers(con: duckdb.DuckDBPyConnection) -> None:
    """Table `invoices`: net per tax type (a discount under its promotion's charge type) rounded to cents,
    tax at the jurisdiction's rate per charge type, total."""
    con.execute(
        """
        create table invoices as
        with by_type as (
            select invoice_number, account_id, period_no, billing_period, currency, tax_type,
                   round(sum(amount), 2) as net
            from lines group by all
        )
        select b.invoice_number, b.account_id, b.period_no, b.billing_period, any_value(b.currency) as currency,
               sum(b.net) as net_amount, sum(round(b.net * coalesce(t.rate, 0), 2)) as tax_amount,
               sum(b.net) + sum(round(b.net * coalesce(t.rate, 0), 2)) as total_amount
        from by_type b left join tax_rates t
            on t.account_id = b.account_id and t.period_no = b.period_no and t.charge_type = b.tax_type
        group by all
        """
    )


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Rows into an existing table in one statement: `executemany` costs about half a millisecond a row."""
    if not rows:
        return
    names = [d[0] for d in con.execute(f"select * from {table} limit 0").description]
    con.register(
        "rows_in", pa.table({n: pa.array(list(c)) for n, c in zip(names, zip(*rows, strict=True), strict=True)})
    )
    con.execute(f"insert into {table} select * from rows_in")
    con.unregister("rows_in")


def _paths(period: date) -> dict[str, str]:
    day = add_months(period, 1).isoformat()  # issued the day after the period
    return {"invoices": f"billing_export/{day}/invoices.csv", "lines": f"billing_export/{day}/invoice_lines.csv"}


def _write_csv(con: duckdb.DuckDBPyConnection, table: str, p: int, path: Path) -> None:
    """One period's headers or lines in the layout's columns, as the BSS writes them. DuckDB writes them
    (the lines are one per billed call; the period is inline, the path bound); every value as
    text and an empty one as NULL, so that only a value with a comma or a quote in it is quoted, as Python's
    csv module does."""
    if table == "invoices":
        select = f"""select invoice_number, account_id, billing_period, currency,
                           strftime(billing_period + interval 1 month, '%Y-%m-%d') as issue_date,
                           net_amount, tax_amount, total_amount
                    from invoices where period_no = {p} order by invoice_number"""
        header = INVOICE_COLUMNS
    else:
        select = f"""select invoice_number, line_no as line_number, account_id, billing_period, line_type, source,
                           record_key,
                           rate_plan_id, subscription_id, product_id, quantity, amount, currency
                    from lines where period_no = {p} order by invoice_number, line_no"""
        header = LINE_COLUMNS
    names = ", ".join(f'"{c}"' for c in header)
    text = ", ".join(f'nullif(cast("{c}" as varchar), \'\') as "{c}"' for c in header)
    con.execute(f"copy (select {text} from ({select}) as t({names})) to $path (header true)", {"path": str(path)})
