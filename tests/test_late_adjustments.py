"""Late information about a call already billed on a closed invoice becomes an adjustment in the account's next
open period, and mediating, rating and billing day by day gives the money a range run gives.

One small carrier operator (one US account, one plan, a few dozen calls), landed by hand. Its deliveries:

    2026-10-21  reference data; calls; parts 1 and 3 of partial calls P1 (the hand-worked one) and P2
    2026-10-25  calls (P1 and P2 go stale: no part for 3 delivery days; mediated from parts 1 and 3)
    2026-10-28  calls; the middle part of P2 (before October closes)
    (2026-11-05 October closes)
    2026-11-06  the middle part of P1 (after October closed); a late October file; November calls

Scenario A loads and mediates each delivery day on its own, closes October on its close date, goes on day by
day and bills November; scenario B does the same with ranges (everything up to the close in one run, the
rest in one run). Both are real Dagster runs through orchestration/pipeline/runs.py.

The plan (US-T-USD, USD, half-up to 4 decimals) prices every call at 0.0100 connect + 0.0137 per minute, in
increments of 6 s. P1 mediated stale: 595 + 300 = 895 billable s, billed 900 s (150 x 6),
0.0100 + 900 x 0.0137 / 60 = 0.2155 USD. Assembled: 595 + 600 + 300 = 1,495 s, billed 1,500 s,
0.0100 + 0.3425 = 0.3525 USD. The difference 0.1370 USD is November's adjustment, a line of 0.14 USD.
"""

from __future__ import annotations

import shutil
import tempfile
import zlib
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from orchestration.pipeline.runs import bill_months, build_models, close_month, load_days
from orchestration.settings import Paths
from tests.conftest import land
from tests.test_month_end import assert_ran, invoice_tables, query

# Dagster and dbt start for every run: about 20 runs here, a few minutes on a busy 2-core machine
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

OCT, NOV, DEC = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
CLOSE_DAY = date(2026, 11, 5)
ACCOUNT = "ACC-3"
P1, P2 = "P1-HAND-0001", "P2-EARLY-0001"

REFERENCE = {
    ("network", "switches.csv"): (
        "switch_id,source,timezone,country_code,country_calling_code,national_prefix,international_prefix,"
        "format_variant,valid_from,valid_to\n"
        "car-nyc1,carrier,UTC,US,1,1,011,v1,2024-01-01,\n"
    ),
    ("crm", "accounts.csv"): (
        "account_id,account_name,country_code,currency,timezone,billing_email,address_line1,city,postcode,"
        "created_date,status\n"
        "ACC-3,Three Inc,US,USD,America/New_York,c@x.example,3 Ave,New York,10001,2024-01-01,active\n"
    ),
    ("crm", "service_assignments.csv"): (
        "identifier_type,identifier,switch_id,account_id,valid_from,valid_to\n"
        "trunk,nyc-tr-1,car-nyc1,ACC-3,2024-01-01,\n"
    ),
    ("crm", "subscriptions.csv"): (
        "subscription_id,order_id,account_id,product_id,quantity,start_date,end_date,order_date\n"
        "SUB-1,ORD-1,ACC-3,SIP-CHANNEL,2,2024-01-01,,2024-01-01\n"
    ),
    (
        "catalog",
        "products.csv",
    ): "product_id,product_name,charge_type,unit\nSIP-CHANNEL,SIP channel,recurring,channel\n",
    (
        "catalog",
        "prices.csv",
    ): "product_id,currency,unit_price,valid_from,valid_to\nSIP-CHANNEL,USD,10.00,2024-01-01,\n",
    ("catalog", "bundles.csv"): "product_id,included_seconds,call_type\n",
    ("catalog", "volume_tiers.csv"): (
        "tier_plan_id,call_type,tier_mode,tier_from_units,tier_to_units,unit_price,flat_amount,currency,unit\n"
    ),
    ("catalog", "tier_assignments.csv"): "account_id,tier_plan_id,valid_from,valid_to\n",
    ("catalog", "promotions.csv"): "promotion_id,account_id,charge_type,discount_percent,valid_from,valid_to\n",
    ("catalog", "rate_plans.csv"): (
        "rate_plan_id,currency,timezone,rounding_method,rounding_decimals,band_mode\n"
        "US-T-USD,USD,America/New_York,half_up,4,start\n"
    ),
    ("catalog", "rates.csv"): (
        "rate_plan_id,prefix,destination,band,valid_from,valid_to,connect_fee,group_start_s,rate,rate_unit_s,"
        "increment_s,max_cost\n"
        "US-T-USD,1,United States,*,2024-01-01,,0.0100,0,0.0137,60,6,\n"
    ),
    (
        "catalog",
        "time_bands.csv",
    ): "rate_plan_id,band,weekdays,start_time,end_time\nUS-T-USD,all,1-7,00:00:00,24:00:00\n",
    ("catalog", "holidays.csv"): "rate_plan_id,date,band\n",
    ("catalog", "plan_assignments.csv"): "account_id,rate_plan_id,valid_from,valid_to\nACC-3,US-T-USD,2024-01-01,\n",
    ("vendor", "vendors.csv"): "vendor_id,vendor_name,currency,rate_plan_id\nVND-A,Atlas,USD,AT-USD\n",
    (
        "vendor",
        "routes.csv",
    ): "route_id,vendor_id,switch_id,valid_from,valid_to\nnyc-atlas,VND-A,car-nyc1,2024-01-01,\n",
    ("vendor", "rate_plans.csv"): (
        "rate_plan_id,currency,timezone,rounding_method,rounding_decimals,band_mode\nAT-USD,USD,UTC,half_up,6,start\n"
    ),
    ("vendor", "rates.csv"): (
        "rate_plan_id,prefix,destination,band,valid_from,valid_to,connect_fee,group_start_s,rate,rate_unit_s,"
        "increment_s,max_cost\n"
        "AT-USD,1,United States,*,2024-01-01,,0,0,0.0050,60,1,\n"
    ),
    ("vendor", "time_bands.csv"): "rate_plan_id,band,weekdays,start_time,end_time\nAT-USD,all,1-7,00:00:00,24:00:00\n",
    ("vendor", "holidays.csv"): "rate_plan_id,date,band\n",
    ("fx", "fx_rates.csv"): "rate_date,base_currency,quote_currency,rate\n2026-10-01,EUR,USD,1.080000\n",
    ("tax", "tax_rules.csv"): (
        "jurisdiction,charge_type,tax_name,tax_rate,valid_from,valid_to\n"
        "US,usage,Federal USF surcharge,0.045,2020-01-01,\n"
        "US,recurring,State sales tax,0.04,2020-01-01,\n"
    ),
}

CARRIER_HEADER = (
    "record_id,record_type,call_ref,partial_seq,is_last_partial,trunk_id,calling_number,called_number,"
    "start_time_utc,answer_time_utc,end_time_utc,duration_s,billable_s,release_cause,route_id\n"
)


def _t(stamp: str, plus: int = 0) -> str:
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(stamp) + timedelta(seconds=plus)).strftime("%Y-%m-%dT%H:%M:%SZ")


def complete(ref: str, start: str, billable: int, ring: int = 5) -> str:
    """An answered complete carrier record: rings `ring` s, talks `billable` s."""
    return (
        f"R-{ref},complete,{ref},,,nyc-tr-1,12124000001,12125550{zlib.crc32(ref.encode()) % 1000:03d},{_t(start)},"
        f"{_t(start, ring)},{_t(start, ring + billable)},{ring + billable},{billable},16,nyc-atlas\n"
    )


def partial(ref: str, seq: int, last: bool, start: str, duration: int, billable: int) -> str:
    answer = _t(start, duration - billable)
    return (
        f"R-{ref}-{seq},partial,{ref},{seq},{1 if last else 0},nyc-tr-1,12124000001,12125550100,{_t(start)},"
        f"{answer},{_t(start, duration)},{duration},{billable},{16 if last else ''},nyc-atlas\n"
    )


def calls_of(day: str, count: int, first_hour: int = 9) -> str:
    """`count` complete calls answered on `day` (UTC), 61 + 7 i s each, an hour apart from `first_hour`."""
    return "".join(
        complete(f"C{day.replace('-', '')}{i:02d}", f"{day}T{first_hour + i:02d}:00:00", 61 + 7 * i)
        for i in range(count)
    )


# delivery day -> {file name: records}
DELIVERIES: dict[date, dict[str, str]] = {
    date(2026, 10, 21): {
        "car-nyc1_20261020T16Z.csv": calls_of("2026-10-20", 4)
        + partial(P1, 1, False, "2026-10-20T14:00:00", 600, 595)
        + partial(P1, 3, True, "2026-10-20T14:20:00", 300, 300)
        + partial(P2, 1, False, "2026-10-20T16:00:00", 120, 118)
        + partial(P2, 3, True, "2026-10-20T16:04:00", 60, 60),
    },
    date(2026, 10, 25): {"car-nyc1_20261024T12Z.csv": calls_of("2026-10-24", 4)},
    date(2026, 10, 28): {
        "car-nyc1_20261027T12Z.csv": calls_of("2026-10-27", 3) + partial(P2, 2, False, "2026-10-20T16:02:00", 120, 120),
    },
    date(2026, 11, 6): {
        "car-nyc1_20261020T14Z.csv": partial(P1, 2, False, "2026-10-20T14:10:00", 600, 600),
        # a late October file: 31 October 22:00 UTC is 18:00 in New York
        "car-nyc1_20261031T22Z.csv": calls_of("2026-10-31", 2, first_hour=20),
        "car-nyc1_20261105T12Z.csv": calls_of("2026-11-05", 3),
    },
}
DAYS = sorted(DELIVERIES)
BEFORE_CLOSE = [d for d in DAYS if d < CLOSE_DAY]
AFTER_CLOSE = [d for d in DAYS if d > CLOSE_DAY]
USD = Decimal


def land_all(paths: Paths) -> None:
    for (source, name), content in REFERENCE.items():
        land(paths, source, DAYS[0].isoformat(), name, content.encode())
    for day, files in DELIVERIES.items():
        for name, records in files.items():
            land(paths, "carrier", day.isoformat(), name, (CARRIER_HEADER + records).encode())


def load_and_mediate(paths: Paths, first: date, last: date) -> None:
    assert load_days(paths, first, last).success
    assert_ran(build_models(paths, first, last))


def snapshot(paths: Paths) -> dict[str, list[tuple]]:
    """Invoices (close time aside), lines and calls of October and November, and every rated call."""
    tables = invoice_tables(paths, [OCT, NOV])
    tables["fct_invoices"] = query(
        paths, "select * exclude (closed_at) from marts.fct_invoices where billing_period in (?, ?) order by all",
        [OCT, NOV],
    )  # fmt: skip
    tables["fct_rated_calls"] = query(paths, "select * from marts.fct_rated_calls order by all")
    return tables


@pytest.fixture(scope="module")
def data_dirs() -> Iterator[callable]:
    mp = pytest.MonkeyPatch()
    shm = Path("/dev/shm")
    made: list[Path] = []

    def new(name: str) -> Paths:
        data = Path(tempfile.mkdtemp(prefix=f"tollhouse-late-{name}-", dir=shm if shm.is_dir() else None))
        made.append(data)
        mp.setenv("TOLLHOUSE_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(data / "dagster"))
        paths = Paths(data)
        land_all(paths)
        return paths

    try:
        yield new
    finally:
        mp.undo()
        for data in made:
            shutil.rmtree(data, ignore_errors=True)


def use(paths: Paths) -> Paths:
    """Point dbt and Dagster at this warehouse (the two scenarios live side by side)."""
    import os

    os.environ["TOLLHOUSE_DATA_DIR"] = str(paths.data)
    os.environ["DAGSTER_HOME"] = str(paths.data / "dagster")
    return paths


@pytest.fixture(scope="module")
def range_run(data_dirs) -> dict:
    """Scenario B: every delivery day up to the close in one run, October closed, the rest in one run,
    November billed."""
    paths = data_dirs("range")
    load_and_mediate(paths, BEFORE_CLOSE[0], BEFORE_CLOSE[-1])
    assert_ran(close_month(paths, OCT, "test", "month-end close"))
    load_and_mediate(paths, AFTER_CLOSE[0], AFTER_CLOSE[-1])
    assert_ran(bill_months(paths, NOV, NOV))
    return {"paths": paths, "snapshot": snapshot(paths)}


@pytest.fixture(scope="module")
def daily_run(data_dirs) -> dict:
    """Scenario A: each delivery day on its own, October closed on its close day, November billed; then
    November billed again (the re-run)."""
    paths = data_dirs("daily")
    stages: dict = {"paths": paths}
    for day in BEFORE_CLOSE:
        load_and_mediate(paths, day, day)
    assert_ran(close_month(paths, OCT, "test", "month-end close"))
    stages["oct_frozen"] = invoice_tables(paths, [OCT])
    for day in AFTER_CLOSE:
        load_and_mediate(paths, day, day)
    assert_ran(bill_months(paths, NOV, NOV))
    stages["snapshot"] = snapshot(paths)
    assert_ran(bill_months(paths, NOV, NOV))
    stages["rerun"] = snapshot(paths)
    return stages


def rated(paths: Paths, call_id: str) -> tuple:
    return query(
        paths, "select billable_seconds, billed_seconds, cost from marts.fct_rated_calls where call_id = ?", [call_id]
    )[0]


def call_id_of(paths: Paths, ref: str) -> str:
    ((call_id,),) = query(paths, "select call_id from marts.fct_calls where record_key = ?", [f"R-{ref}-1"])
    return call_id


def test_a_partial_call_completed_after_its_month_closed_is_adjusted_in_the_next_month(daily_run):
    """P1 was billed on October's closed invoice from parts 1 and 3 (895 s, 0.2155 USD); its middle part came
    after the close. October's invoice keeps the old charge; November's draft carries an adjustment of
    0.3525 - 0.2155 = 0.1370 USD (a line of 0.14), referencing the call and October; a re-run changes nothing."""
    paths = use(daily_run["paths"])
    p1 = call_id_of(paths, P1)
    assert rated(paths, p1) == (1495, 1500, USD("0.3525"))
    frozen = query(
        paths,
        "select status, billable_seconds, billed_seconds, charge, line_type from marts.fct_invoice_calls "
        "where call_id = ? and billing_period = ?",
        [p1, OCT],
    )
    assert frozen == [("closed", 895, 900, USD("0.215500"), "usage")]
    adjustment = query(
        paths,
        "select status, billable_seconds, billed_seconds, charge, line_type, original_period "
        "from marts.fct_invoice_calls where call_id = ? and billing_period = ?",
        [p1, NOV],
    )
    assert adjustment == [("draft", 1495, 1500, USD("0.137000"), "adjustment", OCT)]
    lines = query(
        paths,
        "select line_type, charge_type, reference, quantity, amount, original_period from marts.fct_invoice_lines "
        "where billing_period = ? and reference = ?",
        [NOV, p1],
    )
    assert lines == [("adjustment", "usage", p1, USD("10.000000"), USD("0.14"), OCT)]  # 600 billed s more
    # November by hand: 2 channels x 10.00 = 20.00; usage, 3 calls of 5 November billed 66, 72, 78 s:
    # 0.0251 + 0.0264 + 0.0278 = 0.0793 -> 0.08; adjustments: P1 0.14 and the late file's two calls (66 and
    # 72 s billed, 0.0251 -> 0.03 and 0.0264 -> 0.03); USF 4.5 % of 0.08 + 0.20 = 0.0126 -> 0.01; sales tax
    # 4 % of 20.00 = 0.80. Total 20.00 + 0.08 + 0.20 + 0.01 + 0.80 = 21.09.
    nov = query(
        paths,
        "select line_type, amount from marts.fct_invoice_lines where billing_period = ? order by line_no",
        [NOV],
    )
    assert nov == [
        ("recurring", USD("20.00")),
        ("usage", USD("0.08")),
        ("adjustment", USD("0.14")),
        ("adjustment", USD("0.03")),
        ("adjustment", USD("0.03")),
        ("tax", USD("0.01")),
        ("tax", USD("0.80")),
    ]
    assert query(paths, "select status, total from marts.fct_invoices where billing_period = ?", [NOV]) == [
        ("draft", USD("21.09"))
    ]
    # October's closed invoice is as it was at the close
    assert invoice_tables(paths, [OCT]) == daily_run["oct_frozen"]
    assert daily_run["rerun"] == daily_run["snapshot"]


def test_once_the_adjustment_is_closed_no_further_adjustment_follows(daily_run):
    """November closed with P1's adjustment: December has no adjustment for it, and P1's billed total over
    its invoices is its current charge, 0.3525 USD."""
    paths = use(daily_run["paths"])
    p1 = call_id_of(paths, P1)
    assert_ran(close_month(paths, NOV, "test", "month-end close"))
    assert_ran(bill_months(paths, DEC, DEC))
    assert query(paths, "select count(*) from marts.fct_invoice_lines where billing_period = ? and reference = ?",
                 [DEC, p1]) == [(0,)]  # fmt: skip
    assert query(paths, "select sum(charge), count(*) from marts.fct_invoice_calls where call_id = ?", [p1]) == [
        (USD("0.352500"), 2)
    ]
    assert_ran(bill_months(paths, DEC, DEC))
    assert query(paths, "select count(*) from marts.fct_invoice_lines where line_type = 'adjustment' "
                 "and billing_period = ?", [DEC]) == [(0,)]  # fmt: skip


def test_day_by_day_equals_range_processing(daily_run, range_run):
    """Day-by-day equals range processing on a month with late partials, late files and a close in between:
    invoices, lines (adjustments included) and rated calls identical, row for row."""
    a, b = daily_run["snapshot"], range_run["snapshot"]
    for table in b:
        assert a[table] == b[table], table
