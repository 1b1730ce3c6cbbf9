"""Rating cases worked out by hand (docs/rating.md), checked through `tollhouse rate`.

Every expected cost below was computed by hand with the contract's algorithm; the comment beside each case shows
the arithmetic. Billing position p starts at 0; for each piece [a, b) of the call (cut at band changes and slot
starts): if p < b then billed = ceil((b - p) / inc) * inc and p += billed, else billed = 0.
Piece cost = billed * rate / rate_unit_s; the connect fee is added once when d > 0; max_cost caps; the total is
rounded once with the plan's method and decimals.

Dates used: 2026-10-05 and 2026-11-02 are Mondays, 2026-10-10 is a Saturday, 2026-12-24 a Thursday and
2026-12-25 a Friday. Europe/London is on BST (+01:00) until 2026-10-25 and on GMT (+00:00) after.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from orchestration.rating import what_if

pytestmark = pytest.mark.integration

TOLLHOUSE = Path(sys.executable).parent / "tollhouse"

PLAN_HEADER = "rate_plan_id,currency,timezone,rounding_method,rounding_decimals,band_mode"
RATE_HEADER = (
    "rate_plan_id,prefix,destination,band,valid_from,valid_to,connect_fee,group_start_s,rate,rate_unit_s,increment_s,"
    "max_cost"
)
BAND_HEADER = "rate_plan_id,band,weekdays,start_time,end_time"
HOLIDAY_HEADER = "rate_plan_id,date,band"
ASSIGNMENT_HEADER = "account_id,rate_plan_id,valid_from,valid_to"
CALL_HEADER = "call_id,rate_plan_id,account_id,b_number,answer_at,billable_seconds"


# ---------------------------------------------------------------------------------------------------------------------
# Helpers: tariff rows, a tariff folder, a calls file, one run of `tollhouse rate`.
# ---------------------------------------------------------------------------------------------------------------------


def plan_row(
    plan_id: str,
    *,
    currency: str = "GBP",
    timezone: str = "Europe/London",
    rounding: str = "half_up",
    decimals: int = 4,
    band_mode: str = "split",
) -> str:
    return f"{plan_id},{currency},{timezone},{rounding},{decimals},{band_mode}"


def rate_row(
    plan_id: str,
    prefix: str,
    rate: str,
    *,
    band: str = "*",
    group_start_s: int = 0,
    increment_s: int = 60,
    rate_unit_s: int = 60,
    connect_fee: str = "0",
    valid_from: str = "2026-01-01",
    valid_to: str = "",
    max_cost: str = "",
    destination: str = "Test destination",
) -> str:
    return (
        f"{plan_id},{prefix},{destination},{band},{valid_from},{valid_to},{connect_fee},{group_start_s},{rate},"
        f"{rate_unit_s},{increment_s},{max_cost}"
    )


def all_week(plan_id: str, band: str = "all") -> list[str]:
    """One band covering the whole week (plans whose rates all use band `*`)."""
    return [f"{plan_id},{band},1-7,00:00:00,24:00:00"]


def peak_offpeak(plan_id: str) -> list[str]:
    """Peak 08:00-18:00 on weekdays, offpeak at every other time."""
    return [
        f"{plan_id},peak,1-5,08:00:00,18:00:00",
        f"{plan_id},offpeak,1-5,00:00:00,08:00:00",
        f"{plan_id},offpeak,1-5,18:00:00,24:00:00",
        f'{plan_id},offpeak,"6,7",00:00:00,24:00:00',
    ]


def write_tariff(
    folder: Path,
    *,
    plans: list[str],
    rates: list[str],
    bands: list[str],
    holidays: list[str] | None = None,
    assignments: list[str] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "rate_plans.csv": (PLAN_HEADER, plans),
        "rates.csv": (RATE_HEADER, rates),
        "time_bands.csv": (BAND_HEADER, bands),
        "holidays.csv": (HOLIDAY_HEADER, holidays or []),
    }
    if assignments is not None:
        files["plan_assignments.csv"] = (ASSIGNMENT_HEADER, assignments)
    for name, (header, rows) in files.items():
        (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder


def call(call_id: str, b_number: str, answer_at: str, seconds: int, *, plan: str = "P", account: str = "") -> str:
    return f"{call_id},{plan if not account else ''},{account},{b_number},{answer_at},{seconds}"


def write_calls(tmp_path: Path, calls: list[str]) -> Path:
    calls_file = tmp_path / "calls.csv"
    calls_file.write_text("\n".join([CALL_HEADER, *calls]) + "\n", encoding="utf-8")
    return calls_file


def run_rate(tmp_path: Path, tariff: Path, calls: list[str]) -> subprocess.CompletedProcess[str]:
    """`tollhouse rate` as a user runs it: a subprocess writing OUT.csv."""
    calls_file = write_calls(tmp_path, calls)
    env = {**os.environ, "TOLLHOUSE_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [str(TOLLHOUSE), "rate", str(tariff), str(calls_file), "--out", str(tmp_path / "out.csv")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def read_out(out: Path) -> dict[str, tuple[str, str, str, str]]:
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["call_id", "cost", "currency", "matched_prefix", "reason"]
        return {row["call_id"]: (row["cost"], row["currency"], row["matched_prefix"], row["reason"]) for row in reader}


def rate_calls(tmp_path: Path, tariff: Path, calls: list[str]) -> dict[str, tuple[str, str, str, str]]:
    """call_id -> (cost, currency, matched_prefix, reason), priced in this process by the function behind
    `tollhouse rate` and written as the command writes OUT.csv (test_the_command_line_rates_and_refuses drives
    the command itself)."""
    rated = what_if.rate_calls(tariff, write_calls(tmp_path, calls))
    with (tmp_path / "out.csv").open("w", newline="", encoding="utf-8") as handle:
        what_if.write_rated(rated, handle)
    return read_out(tmp_path / "out.csv")


def unrated(result: tuple[str, str, str, str]) -> tuple[str, str, str]:
    """Cost, matched prefix and reason of an unrated call (its currency is not part of the contract)."""
    cost, _currency, prefix, reason = result
    return cost, prefix, reason


# ---------------------------------------------------------------------------------------------------------------------
# Billing increments
# ---------------------------------------------------------------------------------------------------------------------


def test_60_60_billing(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[rate_row("P", "44", "0.0125", increment_s=60)],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("s1", "442079460000", "2026-10-05T12:00:00+01:00", 1),
            call("s60", "442079460000", "2026-10-05T12:00:00+01:00", 60),
            call("s61", "442079460000", "2026-10-05T12:00:00+01:00", 61),
            call("s125", "442079460000", "2026-10-05T12:00:00+01:00", 125),
        ],
    )
    assert result == {
        "s1": ("0.0125", "GBP", "44", ""),  # ceil(1/60)*60 = 60 s; 60 * 0.0125 / 60 = 0.0125
        "s60": ("0.0125", "GBP", "44", ""),  # ceil(60/60)*60 = 60 s; 0.0125
        "s61": ("0.0250", "GBP", "44", ""),  # ceil(61/60)*60 = 120 s; 120 * 0.0125 / 60 = 0.025
        "s125": ("0.0375", "GBP", "44", ""),  # ceil(125/60)*60 = 180 s; 180 * 0.0125 / 60 = 0.0375
    }


def test_30_6_billing(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P", decimals=6)],
        rates=[
            rate_row("P", "44", "0.0125", group_start_s=0, increment_s=30),
            rate_row("P", "44", "0.0125", group_start_s=30, increment_s=6),
        ],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("s10", "442079460000", "2026-10-05T12:00:00+01:00", 10),
            call("s30", "442079460000", "2026-10-05T12:00:00+01:00", 30),
            call("s31", "442079460000", "2026-10-05T12:00:00+01:00", 31),
            call("s45", "442079460000", "2026-10-05T12:00:00+01:00", 45),
        ],
    )
    assert result == {
        # [0,10) slot 1: ceil(10/30)*30 = 30 s; 30 * 0.0125 / 60 = 0.00625
        "s10": ("0.006250", "GBP", "44", ""),
        # [0,30) slot 1: 30 s; 0.00625
        "s30": ("0.006250", "GBP", "44", ""),
        # [0,30) slot 1: 30 s, p=30; [30,31) slot 2: ceil(1/6)*6 = 6 s; 36 * 0.0125 / 60 = 0.0075
        "s31": ("0.007500", "GBP", "44", ""),
        # [0,30) 30 s, p=30; [30,45) ceil(15/6)*6 = 18 s; 48 * 0.0125 / 60 = 0.01
        "s45": ("0.010000", "GBP", "44", ""),
    }


def test_1_1_billing(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P", decimals=6)],
        rates=[rate_row("P", "44", "0.0125", increment_s=1)],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("s1", "442079460000", "2026-10-05T12:00:00+01:00", 1),
            call("s37", "442079460000", "2026-10-05T12:00:00+01:00", 37),
            call("s60", "442079460000", "2026-10-05T12:00:00+01:00", 60),
        ],
    )
    assert result == {
        "s1": ("0.000208", "GBP", "44", ""),  # 1 * 0.0125 / 60 = 0.000208333... -> half_up 6 dp 0.000208
        "s37": ("0.007708", "GBP", "44", ""),  # 37 * 0.0125 / 60 = 0.4625 / 60 = 0.00770833... -> 0.007708
        "s60": ("0.012500", "GBP", "44", ""),  # 60 * 0.0125 / 60 = 0.0125
    }


def test_connect_fee_and_zero_second_call(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[rate_row("P", "44", "0.0125", increment_s=60, connect_fee="0.05")],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("s30", "442079460000", "2026-10-05T12:00:00+01:00", 30),
            call("s61", "442079460000", "2026-10-05T12:00:00+01:00", 61),
            call("s0", "442079460000", "2026-10-05T12:00:00+01:00", 0),
        ],
    )
    assert result == {
        "s30": ("0.0625", "GBP", "44", ""),  # 0.05 + ceil(30/60)*60 = 60 s * 0.0125 / 60 = 0.05 + 0.0125 = 0.0625
        "s61": ("0.0750", "GBP", "44", ""),  # 0.05 + 120 * 0.0125 / 60 = 0.05 + 0.025 = 0.075
        "s0": ("0.0000", "GBP", "44", ""),  # d = 0: no connect fee, nothing billed; still matched to 44
    }


def test_two_slots_first_minute_then_per_second(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P", decimals=6)],
        rates=[
            rate_row("P", "44", "0.10", group_start_s=0, increment_s=60),
            rate_row("P", "44", "0.02", group_start_s=60, increment_s=1),
        ],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("s20", "442079460000", "2026-10-05T12:00:00+01:00", 20),
            call("s60", "442079460000", "2026-10-05T12:00:00+01:00", 60),
            call("s61", "442079460000", "2026-10-05T12:00:00+01:00", 61),
            call("s95", "442079460000", "2026-10-05T12:00:00+01:00", 95),
        ],
    )
    assert result == {
        # [0,20) slot 1: ceil(20/60)*60 = 60 s; 60 * 0.10 / 60 = 0.10
        "s20": ("0.100000", "GBP", "44", ""),
        # [0,60) slot 1: 60 s; 0.10
        "s60": ("0.100000", "GBP", "44", ""),
        # 0.10 + [60,61) slot 2: 1 s * 0.02 / 60 = 0.000333...; 0.100333... -> 0.100333
        "s61": ("0.100333", "GBP", "44", ""),
        # 0.10 + [60,95) slot 2: 35 s * 0.02 / 60 = 0.7 / 60 = 0.011666...; 0.111666... -> 0.111667
        "s95": ("0.111667", "GBP", "44", ""),
    }


# ---------------------------------------------------------------------------------------------------------------------
# Time bands, holidays, time zones
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("band_mode", "expected"),
    [
        pytest.param(
            "split",
            {
                # [0,30) peak: ceil(30/60)*60 = 60 s -> 0.02, p=60; [30,90) offpeak: ceil((90-60)/60)*60 = 60 s -> 0.01
                # 0.02 + 0.01 = 0.03
                "s90": "0.0300",
                # [0,30) peak 60 s -> 0.02, p=60; [30,100) offpeak: ceil((100-60)/60)*60 = 60 s -> 0.01; 0.03
                "s100": "0.0300",
            },
            id="split",
        ),
        pytest.param(
            "start",
            {
                "s90": "0.0400",  # peak at answer for the whole call: ceil(90/60)*60 = 120 s * 0.02 / 60 = 0.04
                "s100": "0.0400",  # peak for the whole call: ceil(100/60)*60 = 120 s * 0.02 / 60 = 0.04
            },
            id="start",
        ),
    ],
)
def test_call_crossing_from_peak_to_offpeak(tmp_path, band_mode, expected):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P", band_mode=band_mode)],
        rates=[
            rate_row("P", "44", "0.02", band="peak", increment_s=60),
            rate_row("P", "44", "0.01", band="offpeak", increment_s=60),
        ],
        bands=peak_offpeak("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            # Monday 17:59:30 BST: 30 s of peak, then offpeak from 18:00:00.
            call("s90", "442079460000", "2026-10-05T17:59:30+01:00", 90),
            call("s100", "442079460000", "2026-10-05T17:59:30+01:00", 100),
            # Monday noon, all peak: 60 s * 0.02 / 60 = 0.02
            call("peak", "442079460000", "2026-10-05T12:00:00+01:00", 60),
            # Saturday noon, all offpeak: 60 s * 0.01 / 60 = 0.01
            call("weekend", "442079460000", "2026-10-10T12:00:00+01:00", 60),
        ],
    )
    assert result == {
        "s90": (expected["s90"], "GBP", "44", ""),
        "s100": (expected["s100"], "GBP", "44", ""),
        "peak": ("0.0200", "GBP", "44", ""),
        "weekend": ("0.0100", "GBP", "44", ""),
    }


def test_call_crossing_midnight_into_a_holiday(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[
            rate_row("P", "44", "0.03", band="weekday", increment_s=60),
            rate_row("P", "44", "0.006", band="weekend", increment_s=60),
        ],
        bands=["P,weekday,1-5,00:00:00,24:00:00", 'P,weekend,"6,7",00:00:00,24:00:00'],
        holidays=["P,2026-12-25,weekend"],
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            # Thursday 23:59:20 GMT into Christmas Day (a Friday, but a weekend-band holiday):
            # [0,40) weekday: ceil(40/60)*60 = 60 s * 0.03 / 60 = 0.03, p=60;
            # [40,150) holiday: ceil((150-60)/60)*60 = 120 s * 0.006 / 60 = 0.012, p=180; 0.03 + 0.012 = 0.042
            call("xmas_eve", "442079460000", "2026-12-24T23:59:20Z", 150),
            # Control, Wednesday into Thursday (both weekday): ceil(150/60)*60 = 180 s * 0.03 / 60 = 0.09
            call("wed_thu", "442079460000", "2026-12-23T23:59:20Z", 150),
            # On the holiday itself: 60 s * 0.006 / 60 = 0.006
            call("xmas_day", "442079460000", "2026-12-25T12:00:00Z", 60),
        ],
    )
    assert result == {
        "xmas_eve": ("0.0420", "GBP", "44", ""),
        "wed_thu": ("0.0900", "GBP", "44", ""),
        "xmas_day": ("0.0060", "GBP", "44", ""),
    }


def test_bands_are_read_in_the_plan_time_zone(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P", timezone="Europe/London")],
        rates=[
            rate_row("P", "44", "0.02", band="peak", increment_s=60),
            rate_row("P", "44", "0.01", band="offpeak", increment_s=60),
        ],
        bands=peak_offpeak("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            # 06:59:30Z = 07:59:30 BST Monday: [0,30) offpeak 60 s -> 0.01, p=60; [30,90) peak ceil(30/60)*60 = 60 s
            # -> 0.02; 0.03 (read as UTC it would be all offpeak: 120 s * 0.01 / 60 = 0.02)
            call("bst_z", "442079460000", "2026-10-05T06:59:30Z", 90),
            # The same instant written with another offset: 09:59:30+03:00 = 06:59:30Z; 0.03
            call("bst_plus3", "442079460000", "2026-10-05T09:59:30+03:00", 90),
            # 07:30Z = 08:30 BST, peak: 60 s * 0.02 / 60 = 0.02
            call("bst_peak", "442079460000", "2026-10-05T07:30:00Z", 60),
            # Winter, Monday 07:59:30Z = 07:59:30 GMT: 30 s offpeak then peak, as above; 0.03
            call("gmt_cross", "442079460000", "2026-11-02T07:59:30Z", 90),
            # Winter, 07:30Z = 07:30 GMT, offpeak: 60 s * 0.01 / 60 = 0.01 (a fixed +01:00 would say peak)
            call("gmt_offpeak", "442079460000", "2026-11-02T07:30:00Z", 60),
        ],
    )
    assert result == {
        "bst_z": ("0.0300", "GBP", "44", ""),
        "bst_plus3": ("0.0300", "GBP", "44", ""),
        "bst_peak": ("0.0200", "GBP", "44", ""),
        "gmt_cross": ("0.0300", "GBP", "44", ""),
        "gmt_offpeak": ("0.0100", "GBP", "44", ""),
    }


# ---------------------------------------------------------------------------------------------------------------------
# Caps and rounding
# ---------------------------------------------------------------------------------------------------------------------


def test_max_cost_caps_the_call(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[rate_row("P", "44", "0.10", increment_s=60, connect_fee="0.05", max_cost="0.50")],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("s120", "442079460000", "2026-10-05T12:00:00+01:00", 120),
            call("s240", "442079460000", "2026-10-05T12:00:00+01:00", 240),
            call("s270", "442079460000", "2026-10-05T12:00:00+01:00", 270),
            call("s600", "442079460000", "2026-10-05T12:00:00+01:00", 600),
            call("s0", "442079460000", "2026-10-05T12:00:00+01:00", 0),
        ],
    )
    assert result == {
        "s0": ("0.0000", "GBP", "44", ""),  # no billable seconds: no fee, nothing to cap
        "s120": ("0.2500", "GBP", "44", ""),  # 0.05 + 120 * 0.10 / 60 = 0.05 + 0.20 = 0.25 (under the cap)
        "s240": ("0.4500", "GBP", "44", ""),  # 0.05 + 240 * 0.10 / 60 = 0.05 + 0.40 = 0.45 (under the cap)
        "s270": ("0.5000", "GBP", "44", ""),  # 0.05 + ceil(270/60)*60 = 300 s -> 0.50; 0.55 capped to 0.50
        "s600": ("0.5000", "GBP", "44", ""),  # 0.05 + 600 * 0.10 / 60 = 1.05, capped to 0.50
    }


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # raw values: r1 = 30 * 0.02469 / 60 = 0.012345; r2 = 30 * 0.0247 / 60 = 0.01235; r3 = 30 * 0.0246 / 60 = 0.0123
        pytest.param("up", ("0.0124", "0.0124", "0.0123"), id="up"),  # toward +inf; an exact 0.0123 stays
        pytest.param("half_up", ("0.0123", "0.0124", "0.0123"), id="half_up"),  # 0.012345 < half; 0.01235 is half
        pytest.param("down", ("0.0123", "0.0123", "0.0123"), id="down"),  # toward zero
    ],
)
def test_rounding_methods(tmp_path, method, expected):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P", rounding=method, decimals=4)],
        rates=[
            rate_row("P", "4420", "0.02469", increment_s=1),
            rate_row("P", "4421", "0.0247", increment_s=1),
            rate_row("P", "4422", "0.0246", increment_s=1),
        ],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("r1", "442079460000", "2026-10-05T12:00:00+01:00", 30),
            call("r2", "442112345678", "2026-10-05T12:00:00+01:00", 30),
            call("r3", "442212345678", "2026-10-05T12:00:00+01:00", 30),
        ],
    )
    assert result == {
        "r1": (expected[0], "GBP", "4420", ""),
        "r2": (expected[1], "GBP", "4421", ""),
        "r3": (expected[2], "GBP", "4422", ""),
    }


# ---------------------------------------------------------------------------------------------------------------------
# Destinations, validity, plans and accounts
# ---------------------------------------------------------------------------------------------------------------------


def test_longest_prefix_wins(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[
            rate_row("P", "44", "0.05", destination="United Kingdom"),
            rate_row("P", "447", "0.03", destination="United Kingdom mobile"),
            rate_row("P", "4477", "0.02", destination="United Kingdom mobile 77"),
        ],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("fixed", "442079460000", "2026-10-05T12:00:00+01:00", 60),
            call("mobile", "447400123456", "2026-10-05T12:00:00+01:00", 60),
            call("mobile77", "447700900123", "2026-10-05T12:00:00+01:00", 60),
            call("austria", "4312345678", "2026-10-05T12:00:00+01:00", 60),
        ],
    )
    assert result["fixed"] == ("0.0500", "GBP", "44", "")  # only 44 matches: 60 s * 0.05 / 60 = 0.05
    assert result["mobile"] == ("0.0300", "GBP", "447", "")  # 44 and 447 match, 447 wins: 0.03
    assert result["mobile77"] == ("0.0200", "GBP", "4477", "")  # 44, 447, 4477 match, 4477 wins: 0.02
    assert unrated(result["austria"]) == ("", "", "unknown_destination")  # 43...: no prefix, never priced at 0


def test_rate_change_on_a_date(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[
            rate_row("P", "44", "0.0125", valid_from="2026-01-01", valid_to="2026-10-15"),
            rate_row("P", "44", "0.0100", valid_from="2026-10-15"),
        ],
        bands=all_week("P"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            # 14th local: old rate, 60 s * 0.0125 / 60 = 0.0125
            call("oct14", "442079460000", "2026-10-14T12:00:00+01:00", 60),
            # 15th local: new rate, 60 s * 0.0100 / 60 = 0.0100
            call("oct15", "442079460000", "2026-10-15T12:00:00+01:00", 60),
            # 00:30 BST on the 15th: new rate 0.0100
            call("oct15_0030", "442079460000", "2026-10-15T00:30:00+01:00", 60),
            # 23:30Z on the 14th is 00:30 BST on the 15th: new rate 0.0100 (a UTC reading would say old)
            call("oct14_2330z", "442079460000", "2026-10-14T23:30:00Z", 60),
            # Answered 23:59:30 BST on the 14th, runs past midnight: priced at its start, old rate,
            # ceil(120/60)*60 = 120 s * 0.0125 / 60 = 0.025
            call("across", "442079460000", "2026-10-14T23:59:30+01:00", 120),
            # Before any row is valid: no prefix matches, unrated
            call("too_early", "442079460000", "2025-12-31T12:00:00Z", 60),
        ],
    )
    assert result["oct14"] == ("0.0125", "GBP", "44", "")
    assert result["oct15"] == ("0.0100", "GBP", "44", "")
    assert result["oct15_0030"] == ("0.0100", "GBP", "44", "")
    assert result["oct14_2330z"] == ("0.0100", "GBP", "44", "")
    assert result["across"] == ("0.0250", "GBP", "44", "")
    assert unrated(result["too_early"]) == ("", "", "unknown_destination")


def test_unrated_calls_say_why(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[rate_row("P", "44", "0.0125")],
        bands=all_week("P"),
        assignments=["ACC1,P,2026-01-01,"],
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("ok", "442079460000", "2026-10-05T12:00:00+01:00", 60),  # 60 s * 0.0125 / 60 = 0.0125
            call("no_prefix", "33123456789", "2026-10-05T12:00:00+01:00", 60),
            call("no_plan", "442079460000", "2026-10-05T12:00:00+01:00", 60, plan="NOPE"),
            call("no_account", "442079460000", "2026-10-05T12:00:00+01:00", 60, account="ACC404"),
        ],
    )
    assert result["ok"] == ("0.0125", "GBP", "44", "")
    assert unrated(result["no_prefix"]) == ("", "", "unknown_destination")
    assert unrated(result["no_plan"]) == ("", "", "unknown_rate_plan")
    assert unrated(result["no_account"]) == ("", "", "unknown_account")


def test_account_resolved_through_plan_assignments(tmp_path):
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("GB"), plan_row("EU", currency="EUR", timezone="Europe/Berlin")],
        rates=[rate_row("GB", "44", "0.0125"), rate_row("EU", "44", "0.0200")],
        bands=all_week("GB") + all_week("EU"),
        assignments=[
            "ACC1,GB,2026-01-01,2026-10-15",
            "ACC1,EU,2026-10-15,",
            "ACC2,EU,2026-01-01,",
        ],
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("acc1_before", "442079460000", "2026-10-10T12:00:00+01:00", 60, account="ACC1"),
            call("acc1_after", "442079460000", "2026-10-20T12:00:00+01:00", 60, account="ACC1"),
            call("acc2", "442079460000", "2026-10-10T12:00:00+01:00", 61, account="ACC2"),
        ],
    )
    assert result == {
        "acc1_before": ("0.0125", "GBP", "44", ""),  # plan GB: 60 s * 0.0125 / 60 = 0.0125
        "acc1_after": ("0.0200", "EUR", "44", ""),  # plan EU from the 15th: 60 s * 0.02 / 60 = 0.02
        "acc2": ("0.0400", "EUR", "44", ""),  # plan EU: ceil(61/60)*60 = 120 s * 0.02 / 60 = 0.04
    }


# ---------------------------------------------------------------------------------------------------------------------
# Bad tariffs are refused, naming the file and the line (header = line 1)
# ---------------------------------------------------------------------------------------------------------------------


def good_rates() -> list[str]:
    return [
        rate_row("P", "44", "0.05"),  # line 2
        rate_row("P", "447", "0.03"),  # line 3
        rate_row("P", "4477", "0.02"),  # line 4
    ]


@pytest.mark.parametrize(
    ("plans", "rates", "bands", "file_name", "lines"),
    [
        pytest.param(
            [plan_row("P")],
            [*good_rates(), rate_row("P", "4478", "0.02", increment_s=0)],  # line 5: zero increment
            all_week("P"),
            "rates.csv",
            {5},
            id="zero_increment",
        ),
        pytest.param(
            [plan_row("P")],
            # line 5 overlaps line 2 (same plan, prefix 44, band *, group_start_s 0) from 2026-10-15 on
            [*good_rates(), rate_row("P", "44", "0.04", valid_from="2026-10-15")],
            all_week("P"),
            "rates.csv",
            {2, 5},
            id="overlapping_validity",
        ),
        pytest.param(
            [plan_row("P"), plan_row("Q")],
            [*good_rates(), rate_row("Q", "44", "0.05")],
            # line 3 is plan Q's only band and leaves 23:00-24:00 of every day uncovered
            [*all_week("P"), "Q,all,1-7,00:00:00,23:00:00"],
            "time_bands.csv",
            {3},
            id="week_not_covered",
        ),
    ],
)
def test_bad_tariff_is_refused_with_file_and_line(tmp_path, plans, rates, bands, file_name, lines):
    tariff = write_tariff(tmp_path / "tariff", plans=plans, rates=rates, bands=bands)
    calls = write_calls(tmp_path, [call("c1", "442079460000", "2026-10-05T12:00:00+01:00", 60)])
    with pytest.raises(what_if.RatingInputError) as refused:
        what_if.rate_calls(tariff, calls)
    output = str(refused.value)
    assert any(re.search(rf"\b{file_name}:{line}\b", output) for line in lines), output


def test_the_command_line_rates_and_refuses(tmp_path):
    """`tollhouse rate` end to end, in a subprocess: OUT.csv with the hand-worked costs and a summary line;
    a tariff that breaks a rule exits 2 naming the file and line on stderr and writes no OUT.csv."""
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[rate_row("P", "44", "0.0125", increment_s=60)],
        bands=all_week("P"),
    )
    done = run_rate(
        tmp_path,
        tariff,
        [
            call("s61", "442079460000", "2026-10-05T12:00:00+01:00", 61),
            call("nowhere", "999123", "2026-10-05T12:00:00+01:00", 61),
        ],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rated 1 of 2 calls into" in done.stdout
    rated = read_out(tmp_path / "out.csv")
    assert rated["s61"] == ("0.0250", "GBP", "44", "")  # ceil(61/60)*60 = 120 s; 120 * 0.0125 / 60 = 0.025
    assert unrated(rated["nowhere"]) == ("", "", "unknown_destination")

    bad = write_tariff(
        tmp_path / "bad",
        plans=[plan_row("P")],
        rates=[*good_rates(), rate_row("P", "4478", "0.02", increment_s=0)],  # line 5: zero increment
        bands=all_week("P"),
    )
    (tmp_path / "out.csv").unlink()
    done = run_rate(tmp_path, bad, [call("c1", "442079460000", "2026-10-05T12:00:00+01:00", 60)])
    assert done.returncode == 2, done.stdout + done.stderr
    assert re.search(r"\brates\.csv:5\b", done.stderr), done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_one_bands_rate_changes_on_its_own(tmp_path):
    """Only the peak rate of 44 changes on 2026-10-15 (0.02 -> 0.03 per 60 s); offpeak keeps its 2026-01-01
    row (0.01). Each piece uses its own band's row valid at the call's start. 60/60, 60 s calls:
    - 2026-10-12 (Monday) 12:00 BST, peak, old row: 60 * 0.02 / 60 = 0.0200
    - 2026-10-19 (Monday) 12:00 BST, peak, new row: 60 * 0.03 / 60 = 0.0300
    - 2026-10-19 20:00 BST, offpeak, its only row: 60 * 0.01 / 60 = 0.0100"""
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("P")],
        rates=[
            rate_row("P", "44", "0.02", band="peak", valid_to="2026-10-15"),
            rate_row("P", "44", "0.03", band="peak", valid_from="2026-10-15"),
            rate_row("P", "44", "0.01", band="offpeak"),
        ],
        bands=peak_offpeak("P"),
    )
    rated = rate_calls(
        tmp_path,
        tariff,
        [
            call("old_peak", "442071234567", "2026-10-12T11:00:00Z", 60),
            call("new_peak", "442071234567", "2026-10-19T11:00:00Z", 60),
            call("offpeak", "442071234567", "2026-10-19T19:00:00Z", 60),
        ],
    )
    assert rated == {
        "old_peak": ("0.0200", "GBP", "44", ""),
        "new_peak": ("0.0300", "GBP", "44", ""),
        "offpeak": ("0.0100", "GBP", "44", ""),
    }


def test_vendor_cost_and_margin(tmp_path):
    # A vendor's cost deck has the customer plans' format, so the same rating prices a call at both; the
    # margin is the customer price less the vendor cost (fct_rated_calls; FX in its dbt unit test).
    tariff = write_tariff(
        tmp_path / "tariff",
        plans=[plan_row("RETAIL", decimals=4), plan_row("VENDOR", decimals=6)],
        rates=[
            rate_row("RETAIL", "44", "0.0200", increment_s=60, connect_fee="0.0100"),
            rate_row("VENDOR", "44", "0.0125", group_start_s=0, increment_s=6),
            rate_row("VENDOR", "44", "0.0125", group_start_s=6, increment_s=6),
        ],
        bands=all_week("RETAIL") + all_week("VENDOR"),
    )
    result = rate_calls(
        tmp_path,
        tariff,
        [
            call("price", "442079460000", "2026-10-05T12:00:00+01:00", 61, plan="RETAIL"),
            call("cost", "442079460000", "2026-10-05T12:00:00+01:00", 61, plan="VENDOR"),
        ],
    )
    # price: ceil(61/60)*60 = 120 s; 120 * 0.02 / 60 = 0.04, + connect fee 0.01 = 0.0500
    # cost: [0,6) 6 s, p=6; [6,61) ceil(55/6)*6 = 60 s; 66 * 0.0125 / 60 = 0.01375
    assert result == {"price": ("0.0500", "GBP", "44", ""), "cost": ("0.013750", "GBP", "44", "")}
    # margin: 0.0500 - 0.013750 = 0.036250
    assert Decimal(result["price"][0]) - Decimal(result["cost"][0]) == Decimal("0.036250")
