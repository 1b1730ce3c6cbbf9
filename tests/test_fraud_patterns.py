"""Fraud features that do not depend on the simulator's mix: hand-worked scenarios on one clean September.

One world (tests/worlds.py, no simulated fraud) with, on five different accounts, CDR lines appended to the
landed switch files: calls to a destination no customer plan prices (estimated exposure from the vendor deck),
Wangiri (brief inbound calls from a block abroad, then callbacks to it), a trunk filled far beyond its own
peak, a SIM-box (one caller, many numbers, alike lengths) and slow persistent calls to a premium range. Each
new rule fires on its account and nowhere else; the alerts carry the new rules' hits.

And three precision scenarios: on the warehouse's second day (no account has a baseline yet) calls to a dear
range and to domestic premium numbers raise no FR-01, while hot-list calls the next day do; a burst on the slow
account's premium range after its slow episode opened is a second alert; a SIM-box spreading its calls (9 an
hour) raises FR-12 though never FR-10, while a busy call centre ringing as many numbers with varied lengths
raises neither.
"""

from __future__ import annotations

import csv
import gzip
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orchestration.settings import Paths
from tests.worlds import operator_month

CARRIER_HEADER = (
    "record_id,record_type,call_ref,partial_seq,is_last_partial,trunk_id,calling_number,called_number,"
    "start_time_utc,answer_time_utc,end_time_utc,duration_s,billable_s,release_cause,route_id"
)
LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")

# the accounts each scenario is on (12 simulated accounts; the others stay clean)
UNPRICED, WANGIRI, TRUNK, SIMBOX, SLOW = "ACC-00009", "ACC-00012", "ACC-00003", "ACC-00010", "ACC-00004"
NEW_RULES = ("fr_08", "fr_09", "fr_10", "fr_11", "fr_12")
SPREAD, CALL_CENTRE = "ACC-00007", "ACC-00001"

# Japan, which no customer plan prices; one vendor deck (GBP) learns it: 0.05 connect + 0.24 a minute
JAPAN_DECK_ROW = "NW-TERM-GBP,81,Japan,*,2025-01-01,,0.0500,0,0.24000,60,1,"
UNPRICED_DAY = "2026-09-15"
UNPRICED_SECONDS = (120, 300, 61, 45)
# slow persistent: one 10-minute call a day to a German premium number (Northwind 49900: 0.10 + 0.38060/min)
SLOW_DAYS = [f"2026-09-{d}" for d in range(22, 30)]
SLOW_SECONDS = 600
# a range only a vendor deck knows, dear (4 GBP a minute: above the 90th percentile of every deck's prices)
DEAR_DECK_ROW = "NW-TERM-GBP,8190,Japan premium,*,2025-01-01,,0.5000,0,4.00000,60,1,"
YOUNG_DAY, HOT_DAY = datetime(2026, 9, 2, 10, 0), datetime(2026, 9, 3, 10, 0)
# the slow account's premium range, hit by a night burst after its last slow call (22:00 local, 21:00 UTC)
ATTACK_START = datetime(2026, 9, 29, 22, 0)
# spread SIM-box: one number of ACC-00007 every 7 minutes for 6 hours from 00:00 local, 45-46 s each
SPREAD_CALLS, SPREAD_CALLER = 52, "08009000002"
# busy call centre: one main number of ACC-00001 every 5 minutes for 5 hours, lengths far apart
CENTRE_CALLS, CENTRE_CALLER, CENTRE_SECONDS = 60, "02030000099", (30, 90, 180, 300, 45, 600)


class _Seq:
    n = 0

    @classmethod
    def next(cls) -> int:
        cls.n += 1
        return cls.n


def _append(path: Path, header: str | None, lines: list[str]) -> None:
    """Add CDR lines to a landed switch file (created with its header when the hour had none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    packed = path.with_name(path.name + ".gz")
    if packed.exists():  # the switch delivered that hour compressed: add to it
        text = gzip.decompress(packed.read_bytes()).decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8") if path.exists() else (f"{header}\n" if header else "")
    if text and not text.endswith("\n"):
        text += "\n"
    text += "".join(f"{line}\n" for line in lines)
    if packed.exists():
        packed.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")


def _carrier(paths: Paths, trunk: str, a: str, b: str, start: datetime, ring: int, billable: int, route: str) -> None:
    """One complete carrier CDR (UTC times) in the hourly file of its end."""
    n = _Seq.next()
    answer = start + timedelta(seconds=ring) if billable else None
    end = start + timedelta(seconds=ring + billable)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    line = ",".join(
        [
            f"NYC1-99{n:08d}",
            "complete",
            f"e{n:015x}",
            "",
            "",
            trunk,
            a,
            b,
            start.strftime(iso),
            answer.strftime(iso) if answer else "",
            end.strftime(iso),
            str(ring + billable),
            str(billable),
            "16" if billable else "19",
            route,
        ]
    )
    path = paths.landing / "carrier" / end.strftime("%Y-%m-%d") / f"car-nyc1_{end:%Y%m%dT%H}Z.csv"
    _append(path, CARRIER_HEADER, [line])


def _asterisk(
    paths: Paths, template: list[str], dst: str, start_local: datetime, ring: int, billsec: int, src: str | None = None
) -> None:
    """One answered Asterisk CDR (switch-local times) like `template` (a line of the same account), in the
    hourly file of its end (UTC hour in the file name); from `src` when given, else the template's number."""
    n = _Seq.next()
    answer, end = start_local + timedelta(seconds=ring), start_local + timedelta(seconds=ring + billsec)
    end_utc = end.replace(tzinfo=LONDON).astimezone(UTC)
    unique = f"{int(start_local.replace(tzinfo=LONDON).timestamp())}.{900000 + n}"
    fields = list(template)  # routed to Northwind, whose deck prices the slow scenario by hand
    if src is not None:
        fields[1], fields[4] = src, f'"Main line" <{src}>'
    fields[2], fields[6], fields[8] = dst, f"SIP/lon-northwind-e{n:07x}", f"SIP/lon-northwind/{dst},60"
    fields[5] = f"{template[5].rsplit('-', 1)[0]}-f{n:07x}"
    fmt = "%Y-%m-%d %H:%M:%S"
    fields[9], fields[10], fields[11] = start_local.strftime(fmt), answer.strftime(fmt), end.strftime(fmt)
    fields[12], fields[13], fields[14] = str(ring + billsec), str(billsec), "ANSWERED"
    fields[16] = unique
    if len(fields) > 19:  # the later format's linkedid and sequence
        fields[19], fields[20] = unique, str(800000 + n)

    def quoted(i: int, value: str) -> str:
        if i in (12, 13, 20) or value == "":
            return value
        return '"' + value.replace('"', '""') + '"'

    line = ",".join(quoted(i, v) for i, v in enumerate(fields))
    day = end_utc.strftime("%Y-%m-%d")
    path = paths.landing / "asterisk" / day / f"ast-lon1_{end_utc:%Y%m%dT%H}Z.csv"
    _append(path, None, [line])


def _template(paths: Paths, accountcode: str) -> list[str]:
    """An answered outbound line of the account on the later Asterisk format (after 14 September)."""
    for path in sorted((paths.landing / "asterisk").glob("2026-09-2*/*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if row and row[0] == accountcode and row[3] == "from-customer" and row[14] == "ANSWERED":
                    return row
    raise AssertionError(f"no answered line of {accountcode}")


def _mutate(paths: Paths) -> None:
    # 1. unpriced: ACC-00009 calls Tokyo on the Atlas route; Atlas has no price for it and no plan does
    deck = next((paths.landing / "vendor").glob("*/rates.csv"))
    _append(deck, None, [JAPAN_DECK_ROW])
    at = datetime(2026, 9, 15, 14, 0)
    for i, seconds in enumerate(UNPRICED_SECONDS):
        _carrier(paths, "nyc-tr-0003", "+12124000006", f"+813555501{i:02d}", at + timedelta(minutes=9 * i), 4,
                 seconds, "nyc-atlas")  # fmt: skip

    # 2. Wangiri: three missed calls from a Lithuanian block to ACC-00012 at night, two callbacks that day
    #    (the account closes on 11 September)
    night = datetime(2026, 9, 8, 2, 0)
    for i, caller in enumerate(("+37061234501", "+37061234502", "+37061234503")):
        _carrier(paths, "nyc-tr-0005", caller, "+12124000009", night + timedelta(minutes=4 * i), 2, 0, "nyc-atlas")
    _carrier(paths, "nyc-tr-0005", "+12124000010", "+37061234502", datetime(2026, 9, 8, 13, 0), 5, 95, "nyc-atlas")
    _carrier(paths, "nyc-tr-0005", "+12124000011", "+37061234577", datetime(2026, 9, 8, 13, 20), 5, 40, "nyc-atlas")

    # 3. trunk capacity: 16 long calls at once on ACC-00003's first trunk from 03:00 UTC, 15 s apart, lasting
    #    15 to 30 minutes, from its two numbers: the last ends at 03:33:48 with 13 others ended in its last 15 min
    burst = datetime(2026, 9, 22, 3, 0)
    for i in range(16):
        _carrier(paths, "nyc-tr-0001", f"+1212400000{i % 2}", f"+1212555{i:04d}", burst + timedelta(seconds=15 * i),
                 3, 900 + 60 * i, "nyc-northwind")  # fmt: skip

    # 4. SIM-box: 25 calls from one number of ACC-00010 to 25 UK mobiles, 29-31 seconds each, 03:00-03:50 local
    template = _template(paths, "ac10010")
    for i in range(25):
        _asterisk(paths, template, f"0770090{i:04d}", datetime(2026, 9, 24, 3, 0) + timedelta(minutes=2 * i), 4,
                  29 + i % 3)  # fmt: skip

    # 5. slow persistent: a 10-minute call a day to a German premium range ACC-00004 never called, eight days
    template = _template(paths, "ac10004")
    for i, day in enumerate(SLOW_DAYS):
        start = datetime.fromisoformat(day).replace(hour=12 if i == 0 else 10)
        _asterisk(paths, template, f"00499001234{i:03d}", start, 3, SLOW_SECONDS)
    #    then, after its last slow call, a night burst on the same range: 8 calls of 5 minutes, one after another
    for i in range(8):
        _asterisk(paths, template, f"00499005555{i:03d}", ATTACK_START + timedelta(minutes=6 * i), 3, 300)

    # 6. no baseline yet: on the warehouse's second day ACC-00009 calls a dear range no list names and domestic
    #    premium numbers (three each, alternating, 6 minutes apart); on the third day four hot-list numbers
    _append(deck, None, [DEAR_DECK_ROW])
    for i in range(6):
        dst = f"+8190555501{i:02d}" if i % 2 == 0 else f"+1900555501{i:02d}"
        _carrier(paths, "nyc-tr-0003", "+12124000006", dst, YOUNG_DAY + timedelta(minutes=6 * i), 4, 60, "nyc-atlas")
    for i in range(4):
        _carrier(paths, "nyc-tr-0003", "+12124000006", f"+3719015550{i:02d}", HOT_DAY + timedelta(minutes=6 * i), 4,
                 60, "nyc-atlas")  # fmt: skip

    # 7. spread SIM-box: ACC-00007's toll-free number rings a new UK mobile every 7 minutes, 45 or 46 s each
    template = _template(paths, "ac10007")
    for i in range(SPREAD_CALLS):
        _asterisk(paths, template, f"0770091{i:04d}", datetime(2026, 9, 17, 0, 0) + timedelta(minutes=7 * i), 4,
                  45 + i % 2, src=SPREAD_CALLER)  # fmt: skip

    # 8. busy call centre: ACC-00001's main number rings a new UK mobile every 5 minutes, 30 s to 10 minutes
    template = _template(paths, "ac10001")
    for i in range(CENTRE_CALLS):
        _asterisk(paths, template, f"0770092{i:04d}", datetime(2026, 9, 16, 9, 0) + timedelta(minutes=5 * i), 4,
                  CENTRE_SECONDS[i % len(CENTRE_SECONDS)], src=CENTRE_CALLER)  # fmt: skip


@pytest.fixture(scope="module")
def world():
    from orchestration.pipeline.runs import detect_fraud

    # billing and the controls are not what this module checks: loaded and mediated, then scored
    with operator_month(_mutate, fraud="none", stages=("load", "build")) as (paths, results):
        assert results["load"].success
        assert detect_fraud(paths, train=True).success
        yield paths


def _query(paths: Paths, sql: str, params: list | None = None) -> list[tuple]:
    from orchestration.warehouse import connect

    with connect(paths.warehouse, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _fx(paths: Paths, day: str, base: str) -> Decimal:
    """The feed's rate of one unit of `base` in EUR on `day`: the latest published on or before it."""
    rates = {}
    for path in (paths.landing / "fx").glob("*/*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["base_currency"] == base and row["quote_currency"] == "EUR" and row["rate_date"] <= day:
                    rates[row["rate_date"]] = Decimal(row["rate"])
    return rates[max(rates)]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_unpriced_calls_feed_the_features_with_an_exposure_estimated_from_the_vendor_deck(world):
    rows = _query(
        world,
        "select is_rated, exposure_is_estimate, range_prefix, exposure_eur from intermediate.int_outbound_calls_costed "
        "where account_id = ? and b_number like '813555501%' order by start_at",
        [UNPRICED],
    )
    assert [r[:3] for r in rows] == [(False, True, "81")] * 4
    # by hand: 0.05 GBP + 0.24 GBP a minute, at the day's GBP/EUR rate
    rate = _fx(world, UNPRICED_DAY, "GBP")
    expected = sum((Decimal("0.05") + Decimal("0.24") * s / 60) * rate for s in UNPRICED_SECONDS)
    assert _cents(sum(r[3] for r in rows)) == _cents(expected)
    # they are in the account's windows: the last call's hour holds all four
    assert _query(
        world,
        "select f.unrated_calls_1h from marts.fct_fraud_features f "
        "join intermediate.int_outbound_calls_costed c using (call_id) "
        "where c.account_id = ? and c.b_number = '81355550103'",
        [UNPRICED],
    ) == [(4,)]


def test_every_mediated_outbound_call_is_seen_once_priced_or_not(world):
    ((mediated, rated, seen, featured, unrated),) = _query(
        world,
        "select (select count(*) from marts.fct_calls where direction = 'outbound'), "
        "(select count(*) from marts.fct_rated_calls where direction = 'outbound'), "
        "(select count(distinct call_id) from intermediate.int_outbound_calls_costed), "
        "(select count(*) from marts.fct_fraud_features), "
        "(select count(*) filter (where not is_rated) from intermediate.int_outbound_calls_costed)",
    )
    assert seen == featured == mediated == rated + unrated and unrated >= 4


def test_wangiri_callbacks_raise_fr08_on_their_account(world):
    rows = _query(
        world,
        "select b_number, wangiri_callbacks_6h, fr_08 from marts.fct_fraud_features where account_id = ? "
        "and (b_number like '3706123450%' or b_number like '3706123457%') order by end_at",
        [WANGIRI],
    )
    assert rows == [("37061234502", 1, 1), ("37061234577", 2, 2)]


def test_a_trunk_beyond_its_own_peak_raises_fr09(world):
    (concurrent, ratio, severity), *_ = _query(
        world,
        "select trunk_concurrent_calls, trunk_capacity_ratio, fr_09 from marts.fct_fraud_features "
        "where account_id = ? and b_number like '1212555%' order by trunk_concurrent_calls desc, end_at desc",
        [TRUNK],
    )
    # 13 calls up at once on a trunk whose busiest baseline day had far fewer (at least 2 counted)
    assert concurrent >= 13 and ratio >= 3 and severity == 2


def test_a_simbox_raises_fr10(world):
    rows = _query(
        world,
        "select uniform_callees_1h, fr_10 from marts.fct_fraud_features where account_id = ? "
        "and b_number like '447700900%' order by end_at",
        [SIMBOX],
    )
    assert len(rows) == 25
    # one caller, 25 numbers, lengths 29-31 s: from the 10th answered call the feature is the numbers rung
    assert rows[-1] == (25, 2)
    assert [r[0] for r in rows[:9]] == [0] * 9 and rows[9] == (10, 1) and rows[19] == (20, 2)


def test_slow_persistent_spend_raises_fr11_against_the_spend_before_the_window(world):
    rows = _query(
        world,
        "select f.range_exposure_window_eur, f.range_exposure_reference_eur, f.range_spend_ratio, f.fr_11, "
        "cast(f.end_at as date)::varchar from marts.fct_fraud_features f where f.account_id = ? "
        "and f.b_number like '499001234%' order by f.end_at",
        [SLOW],
    )
    assert len(rows) == 8
    # vendor Northwind: 0.10 + 0.38060 x 10 = 3.906 GBP a call, at each day's GBP/EUR rate; the account had
    # never called the range: the reference is 0, the floor 2 EUR
    costs = [Decimal("3.906") * _fx(world, day, "GBP") for day in SLOW_DAYS]
    window, reference, ratio, severity, _ = rows[-1]
    assert reference == 0 and _cents(window) == _cents(sum(costs))
    assert ratio == pytest.approx(float(sum(costs) / 2), abs=0.001) and ratio >= 10 and severity == 2
    # it fires from the day the week's spend passes 20 EUR (on 3 days at least): no hourly rule sees it
    fired = [r[4] for r in rows if r[3] > 0]
    first = next(i for i in range(8) if sum(costs[: i + 1]) >= 20 and i >= 2)
    assert fired == SLOW_DAYS[first:]


def test_the_clean_accounts_raise_none_of_the_new_rules(world):
    hits = _query(
        world,
        f"select account_id, {', '.join(f'max({r})' for r in NEW_RULES)} from marts.fct_fraud_features "
        f"where greatest({', '.join(NEW_RULES)}) > 0 group by account_id order by account_id",
    )
    rules = {account: [r for r, level in zip(NEW_RULES, levels, strict=True) if level] for account, *levels in hits}
    # the hourly SIM-box of 25 calls in 50 minutes is also 25 numbers in 6 hours: FR-12 warns there too
    assert rules == {
        WANGIRI: ["fr_08"], TRUNK: ["fr_09"], SIMBOX: ["fr_10", "fr_12"], SLOW: ["fr_11"], SPREAD: ["fr_12"]
    }  # fmt: skip


def test_the_alerts_carry_the_new_rules_one_alert_per_episode(world):
    alerts = _query(
        world,
        "select account_id, count(*), list_sort(list_distinct(flatten(list(rules_hit)))) "
        "from intermediate.int_fraud_alerts_triggered where detector = 'combined' "
        "group by account_id order by account_id",
    )
    hit = {account: (count, rules) for account, count, rules in alerts}
    for account, rule in ((WANGIRI, "FR-08"), (TRUNK, "FR-09"), (SIMBOX, "FR-10"), (SLOW, "FR-11"), (SPREAD, "FR-12")):
        assert rule in hit[account][1], (account, rule, hit)
        # one alert each: the slow spend hits once a day for four days, and its episode lasts a week; the slow
        # account's second alert is the burst after it (test_an_attack_on_an_account_in_a_slow_episode...)
        assert hit[account][0] == (2 if account == SLOW else 1), (account, hit)


def test_without_a_baseline_fr01_counts_only_the_hot_list_and_premium_numbers_abroad(world):
    young = _query(
        world,
        "select f.history_days, c.high_risk_reasons, f.high_risk_calls_1h, f.known_high_risk_calls_1h, "
        "f.high_risk_excess_1h, f.fr_01 from marts.fct_fraud_features f join intermediate.int_outbound_calls_costed c "
        "using (call_id) where f.account_id = ? and (f.b_number like '8190555501%' or f.b_number like '1900555501%') "
        "order by f.end_at",
        [UNPRICED],
    )
    # one day of history (1 September): no baseline. Each call is high risk (dear range, premium number) and
    # the hour holds them all, but a US account calling US premium numbers and a dear range is no FR-01
    assert [r[0] for r in young] == [1] * 6
    assert ["high_cost" in r[1] if i % 2 == 0 else "premium" in r[1] for i, r in enumerate(young)] == [True] * 6
    assert [r[2] >= i + 1 for i, r in enumerate(young)] == [True] * 6  # what FR-01 counted before
    assert [r[3:] for r in young] == [(0, 0, 0)] * 6
    hot = _query(
        world,
        "select history_days, high_risk_excess_1h, fr_01, end_at from marts.fct_fraud_features "
        "where account_id = ? and b_number like '3719015550%' order by end_at",
        [UNPRICED],
    )
    # two days of history, still no baseline: the hot list counts call by call, critical from the third
    assert [r[:3] for r in hot] == [(2, 1, 0), (2, 2, 1), (2, 3, 2), (2, 4, 2)]
    alerts = _query(
        world,
        "select raised_on::varchar, raised_at, rules_hit from intermediate.int_fraud_alerts_triggered "
        "where detector = 'rules' and account_id = ? and raised_on between '2026-09-02' and '2026-09-03'",
        [UNPRICED],
    )
    assert alerts == [("2026-09-03", hot[2][3], ["FR-01"])]


def test_an_attack_on_an_account_in_a_slow_episode_is_a_new_alert(world):
    alerts = _query(
        world,
        "select a.raised_at, a.rules_hit, f.fr_11, f.fr_01 from intermediate.int_fraud_alerts_triggered a "
        "join marts.fct_fraud_features f on f.call_id = a.trigger_call_id "
        "where a.detector = 'combined' and a.account_id = ? order by a.raised_at",
        [SLOW],
    )
    assert len(alerts) == 2, alerts
    (slow_at, slow_rules, *_), (burst_at, burst_rules, burst_fr11, burst_fr01) = alerts
    assert "FR-11" in slow_rules and slow_at < datetime(2026, 9, 29)
    # the burst (21:00-21:47 UTC) is its own alert, raised by FR-01 on a call where the slow rule was critical
    # too: the slow episode's week-long gap used to swallow it
    assert datetime(2026, 9, 29, 21, 0) < burst_at < datetime(2026, 9, 29, 21, 48)
    assert "FR-01" in burst_rules and burst_fr01 == 2 and burst_fr11 == 2


def test_a_simbox_spreading_its_calls_raises_fr12_never_fr10(world):
    rows = _query(
        world,
        "select caller_answered_1h, uniform_callees_1h, fr_10, uniform_callees_window, fr_12, end_at "
        "from marts.fct_fraud_features where account_id = ? and b_number like '44770091%' order by end_at",
        [SPREAD],
    )
    assert len(rows) == SPREAD_CALLS
    # 7 minutes apart: at most 9 calls end in any hour, under FR-10's 10 answered calls
    assert max(r[0] for r in rows) == 9 and {(r[1], r[2]) for r in rows} == {(0, 0)}
    # all 52 end within 6 hours, alike (45-46 s): from the 10th answered call the feature is the numbers rung
    assert [r[3] for r in rows] == [0] * 9 + list(range(10, SPREAD_CALLS + 1))
    assert [r[4] for r in rows] == [0] * 19 + [1] * 10 + [2] * (SPREAD_CALLS - 29)
    alerts = _query(
        world,
        "select raised_at, rules_hit from intermediate.int_fraud_alerts_triggered "
        "where detector = 'rules' and account_id = ?",
        [SPREAD],
    )
    # critical from the 30th number: one alert
    assert len(alerts) == 1 and alerts[0][0] == rows[29][5] and "FR-12" in alerts[0][1], alerts


def test_a_busy_call_centre_with_varied_lengths_is_no_simbox(world):
    rows = _query(
        world,
        "select caller_answered_1h, caller_numbers_window, round(caller_duration_cv_window, 3), fr_10, fr_12 "
        "from marts.fct_fraud_features where account_id = ? and b_number like '44770092%' order by end_at",
        [CALL_CENTRE],
    )
    assert len(rows) == CENTRE_CALLS
    # as many numbers as the SIM-box, more calls an hour; lengths 30-600 s: coefficient of variation 0.954
    assert rows[-1][:3] == (12, CENTRE_CALLS, 0.954)
    assert {r[3:] for r in rows} == {(0, 0)}
