"""What the invoice documents share: the issuing operator, and money, number, date and phone-number formatting
(Decimal throughout, half-up to the currency's minor unit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Operator:
    name: str
    address: tuple[str, ...]
    vat_number: str
    company_number: str
    email: str
    website: str
    bank: tuple[str, ...]


# The operator that issues the invoices (demo values: no real company, bank or VAT registration).
OPERATOR = Operator(
    name="Tollhouse Demo Telecom Ltd",
    address=("Unit 4, Exchange Quay", "Salford", "M50 3EQ", "United Kingdom"),
    vat_number="GB 123 4567 89",
    company_number="Registered in England and Wales, company no. 01234567",
    email="billing@tollhouse.example",
    website="tollhouse.example",
    bank=("Demo Bank plc", "Sort code 00-00-00, account 12345678", "IBAN GB00 DEMO 0000 0012 3456 78", "BIC DEMOGB2L"),
)
LOGO_TEXT = "TH"
BRAND = (15, 76, 92)  # #0f4c5c
BRAND_HEX = "#0f4c5c"
COUNTRY_NAMES = {"GB": "United Kingdom", "DE": "Germany", "US": "United States"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
CENT = Decimal("0.01")


def mask_number(number: str | None, keep: int = 4, *, mask: str = "•") -> str:
    """The number with all but its last `keep` digits masked; its length stays, so a customer can still tell a
    short code from an international number. Numbers no longer than `keep` are masked whole."""
    digits = (number or "").strip().lstrip("+")
    if len(digits) <= keep:
        return mask * len(digits)
    return mask * (len(digits) - keep) + (digits[-keep:] if keep > 0 else "")


def dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))  # str() first: a float would carry its binary error into the Decimal


def cents(value: Any) -> Decimal | None:
    """The amount in the currency's minor unit (2 decimals), half-up, as every document and page shows it."""
    amount = dec(value)
    return None if amount is None else amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(value: Any, grouping: bool = True) -> str:
    """Currency minor unit (2 decimals), half-up; the lines already are, this only fixes the display."""
    amount = cents(value)
    if amount is None:
        return ""
    return f"{amount:,.2f}" if grouping else f"{amount:.2f}"


def number_text(value: Any, min_dp: int, max_dp: int) -> str:
    """A decimal with trailing zeros dropped down to min_dp places (12.500000 -> 12.5, 0.080000 -> 0.08)."""
    amount = dec(value)
    if amount is None:
        return ""
    amount = amount.quantize(Decimal(1).scaleb(-max_dp), rounding=ROUND_HALF_UP)
    text = f"{amount:,.{max_dp}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(min_dp, "0")
    return f"{whole}.{frac}" if frac else whole


def percent(rate: Any) -> str:
    value = dec(rate)
    return "" if value is None else f"{(value * 100).normalize():f}%"


def day_text(value: date | None) -> str:
    return f"{value.day} {MONTHS[value.month - 1][:3]} {value.year}" if value else ""


def month_text(value: date | None) -> str:
    return f"{MONTHS[value.month - 1]} {value.year}" if value else ""


def period_span(period: date) -> str:
    first = period.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    last = date.fromordinal(following.toordinal() - 1)
    return f"{day_text(first)} – {day_text(last)}"


def duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # the document then says UTC, so the times stay true


def as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])
