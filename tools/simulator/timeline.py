"""The simulated period and the dated events inside it, all derived from the config (no wall clock).

Events sit at fixed fractions of the period so that a one-month and a three-month world have the
same story: a switch upgrade, a price change, a trunk moving between customers, a plan change,
customers joining and leaving, reference data arriving late, one switch clock running an hour fast.
Effective dates are whole days; traffic keeps 12 hours away from them (see reference.py), so the
owner of a call never depends on which time zone reads the date.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from tools.simulator.config import SimulationConfig

HOUR = 3600
DAY = 86_400


def epoch(day: date) -> int:
    """Seconds since 1970 at UTC midnight of `day`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def iso_utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LateAssignment:
    """Calls on a new trunk from `valid_from`; the CRM delivers its assignment only on `delivered`."""

    switch_id: str
    valid_from: date
    delivered: date


@dataclass(frozen=True)
class Timeline:
    start: date
    end: date  # exclusive: first day after the period
    upgrade_day: date  # ast-lon1 moves from 18 to 21 cdr_csv columns at 00:00 UTC
    rate_change_day: date
    promo_end_day: date
    trunk_move_day: date
    plan_switch_day: date
    activation_days: tuple[date, ...]
    cancellation_days: tuple[date, ...]
    late_assignments: tuple[LateAssignment, ...]
    skew_switch_id: str
    skew_from: int  # true UTC seconds: the switch clock ran +1 h inside [skew_from, skew_to)
    skew_to: int
    skew_offset: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def month_starts(self) -> list[date]:
        months = []
        day = self.start
        while day < self.end:
            months.append(day)
            day = add_months(day, 1)
        return months


def build_timeline(config: SimulationConfig) -> Timeline:
    start = config.start
    end = add_months(start, config.months)
    days = (end - start).days

    def at(fraction: float) -> date:
        return start + timedelta(days=int(days * fraction))

    skew_day = at(0.27)
    late = (
        LateAssignment("fs-ber1", at(0.16), at(0.16) + timedelta(days=4)),
        LateAssignment("car-nyc1", at(0.55), at(0.55) + timedelta(days=3)),
    )
    return Timeline(
        start=start,
        end=end,
        upgrade_day=at(0.45),
        rate_change_day=at(0.5),
        promo_end_day=at(0.42),
        trunk_move_day=at(0.52),
        plan_switch_day=at(0.58),
        activation_days=(at(0.23), at(0.65)),
        cancellation_days=(at(0.35), at(0.77)),
        late_assignments=late,
        skew_switch_id="fs-ber1",
        skew_from=epoch(skew_day) + 23 * HOUR,  # a quiet night: NTP lost, the clock jumps an hour
        skew_to=epoch(skew_day) + 26 * HOUR,
        skew_offset=HOUR,
    )


@dataclass(frozen=True)
class ZoneClock:
    """UTC offset of one zone for every UTC hour of a window; all these zones change on whole hours."""

    zone: str
    first_hour: int  # UTC hours since 1970
    offsets: np.ndarray  # seconds, int64, one per hour

    @classmethod
    def build(cls, zone: str, first_day: date, last_day: date) -> ZoneClock:
        tz = zoneinfo.ZoneInfo(zone)
        first_hour = epoch(first_day) // HOUR
        hours = (epoch(last_day) - epoch(first_day)) // HOUR
        offsets = np.array(
            [
                int(datetime.fromtimestamp((first_hour + h) * HOUR, tz).utcoffset().total_seconds())
                for h in range(hours)
            ],
            np.int64,
        )
        return cls(zone, first_hour, offsets)

    def offset(self, utc_seconds: np.ndarray) -> np.ndarray:
        return self.offsets[utc_seconds // HOUR - self.first_hour]

    def local(self, utc_seconds: np.ndarray) -> np.ndarray:
        return utc_seconds + self.offset(utc_seconds)

    def ambiguous(self, utc_seconds: np.ndarray) -> np.ndarray:
        """True where the local wall time also occurs an hour earlier or later (autumn fall-back)."""
        off = self.offset(utc_seconds)
        later = self.offset(np.minimum(utc_seconds + HOUR, (self.first_hour + len(self.offsets)) * HOUR - 1))
        earlier = self.offset(np.maximum(utc_seconds - HOUR, self.first_hour * HOUR))
        return (later < off) | (earlier > off)
