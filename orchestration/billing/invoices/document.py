"""One view of an invoice, shared by the HTML and the PDF so that both say the same thing: the customer block,
the lines, the tax breakdown with each tax's base, and the itemised calls per section."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from orchestration.billing.invoices.formatting import (
    COUNTRY_NAMES,
    OPERATOR,
    as_date,
    day_text,
    dec,
    duration,
    format_money,
    mask_number,
    month_text,
    number_text,
    percent,
    period_span,
    zone_of,
)

# A document itemises at most this many calls per section (a trunk can make 50,000 calls a month: hundreds of
# pages nobody reads, and minutes to render); every call is in the invoice's <number>-calls.csv beside it.
ITEMISED_ROWS = 1_000


@dataclass(frozen=True)
class TaxRow:
    label: str  # "VAT 20%"
    applies_to: str
    base: str  # "" when the lines it taxes cannot be told
    amount: str


@dataclass(frozen=True)
class CallSection:
    title: str
    summary: str
    rows: list[tuple[str, ...]]  # the first ITEMISED_ROWS
    more: int = 0  # calls left out of the document (all are in the calls CSV)


@dataclass(frozen=True)
class Document:
    is_draft: bool
    invoice_number: str
    currency: str
    customer: tuple[str, ...]  # name first, then address lines
    billing_email: str
    details: tuple[tuple[str, str], ...]
    lines: list[tuple[str, ...]]
    subtotal: str
    taxes: list[TaxRow]
    total: str
    payment: str
    timezone: str
    calls: list[CallSection]


LINE_HEADINGS = ("#", "Description", "Reference", "Quantity", "Unit price", "Amount")
CALL_HEADINGS = ("Answered (local)", "Number", "Destination", "Type", "Duration", "Billed", "Bundle", "Charge")


def _tax_rows(lines: Sequence[Mapping[str, Any]]) -> list[TaxRow]:
    """Tax lines with their base: the non-tax lines (discounts included) of the charge types the tax line names."""
    base_by_type: dict[str, Decimal] = {}
    for line in lines:
        if line.get("line_type") != "tax" and line.get("charge_type"):
            base_by_type[line["charge_type"]] = base_by_type.get(line["charge_type"], Decimal(0)) + dec(line["amount"])
    rows = []
    for line in lines:
        if line.get("line_type") != "tax":
            continue
        types = [t.strip() for t in (line.get("charge_type") or "").split(",") if t.strip()]
        known = [t for t in types if t in base_by_type]
        base = format_money(sum((base_by_type[t] for t in known), Decimal(0))) if known else ""
        name = line.get("tax_name") or line.get("description") or "Tax"
        rate = percent(line.get("tax_rate"))
        applies_to = ", ".join(t.replace("_", "-") for t in types)
        rows.append(TaxRow(f"{name} {rate}".strip(), applies_to, base, format_money(line["amount"])))
    return rows


def _line_rows(lines: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    for line in lines:
        if line.get("line_type") == "tax":
            continue  # shown with its base in the tax breakdown
        description = line.get("description") or ""
        if line.get("line_type") == "adjustment" and line.get("original_period"):
            description += f" (late usage from {month_text(as_date(line['original_period']))})"
        # minutes are shown to the hundredth (the line is priced from exact seconds); counts in full
        quantity = number_text(line.get("quantity"), 0, 2 if line.get("unit") == "minutes" else 6)
        if quantity and line.get("unit"):
            quantity += f" {'min' if line['unit'] == 'minutes' else line['unit']}"
        rows.append(
            (
                str(line.get("line_no") or ""),
                description,
                line.get("reference") or "",
                quantity,
                number_text(line.get("unit_price"), 2, 6),
                format_money(line["amount"]),
            )
        )
    return rows


def _calls_summary(count: int, seconds: int) -> str:
    return f"{count:,} call{'' if count == 1 else 's'}, {duration(seconds)} billed"


def _beyond(rows: list) -> int:
    return max(0, len(rows) - ITEMISED_ROWS)


def more_calls_note(more: int) -> str:
    return f"... and {more:,} more calls, listed with every other call in the invoice's calls CSV file."


def _call_sections(
    calls: Iterable[Mapping[str, Any]], zone: ZoneInfo, period: date | None, mask: str
) -> list[CallSection]:
    """This period's calls, then late calls per closed period they belonged to; each in answer_at order."""
    groups: dict[date | None, list[tuple[str, ...]]] = {}
    seconds: dict[date | None, int] = {}
    for call in calls:
        answer_at = call.get("answer_at")
        if isinstance(answer_at, datetime):
            local = answer_at.replace(tzinfo=UTC) if answer_at.tzinfo is None else answer_at
            answered = local.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        else:
            answered = str(answer_at or "")
        # None keys this period's usage; an adjustment's key is the closed period it came from.
        key = as_date(call.get("original_period")) if call.get("line_type") == "adjustment" else None
        charge = call.get("charge")
        groups.setdefault(key, []).append(
            (
                answered,
                mask_number(call.get("b_number"), mask=mask),
                call.get("destination") or "",
                call.get("call_type") or "",
                duration(call.get("billable_seconds")),
                duration(call.get("billed_seconds")),
                duration(call.get("covered_seconds")) if call.get("covered_seconds") else "",
                "tier" if charge is None else number_text(charge, 4, 6),
            )
        )
        seconds[key] = seconds.get(key, 0) + int(call.get("billed_seconds") or 0)
    sections = []
    if None in groups:
        rows = groups.pop(None)
        summary = _calls_summary(len(rows), seconds[None])
        sections.append(CallSection(f"Calls in {month_text(period)}", summary, rows[:ITEMISED_ROWS], _beyond(rows)))
    for key in sorted(groups, key=lambda d: d or date.min):
        title = f"Late calls from {month_text(key) if key else 'a closed period'}, billed here as an adjustment"
        rows = groups[key]
        summary = _calls_summary(len(rows), seconds[key])
        sections.append(CallSection(title, summary, rows[:ITEMISED_ROWS], _beyond(rows)))
    return sections


def build_document(
    invoice: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    calls: Iterable[Mapping[str, Any]],
    timezone: str,
    mask: str,
) -> Document:
    period = as_date(invoice.get("billing_period"))
    zone = zone_of(timezone)
    is_draft = invoice.get("status") == "draft"
    currency = invoice.get("currency") or ""
    customer = tuple(
        part
        for part in (
            invoice.get("account_name"),
            invoice.get("address_line1"),
            " ".join(p for p in (invoice.get("postcode"), invoice.get("city")) if p)
            if invoice.get("country_code") == "DE"  # German addresses put the postcode first
            else ", ".join(p for p in (invoice.get("city"), invoice.get("postcode")) if p),
            COUNTRY_NAMES.get(invoice.get("country_code") or "", invoice.get("country_code")),
        )
        if part
    )
    details = (
        ("Invoice number", invoice.get("invoice_number") or ""),
        ("Account", invoice.get("account_id") or ""),
        ("Billing period", month_text(period)),
        ("Period covered", period_span(period) if period else ""),
        ("Issue date", day_text(as_date(invoice.get("issue_date")))),
        ("Due date", day_text(as_date(invoice.get("due_date")))),
        ("Currency", currency),
        ("Status", "DRAFT" if is_draft else "Closed"),
    )
    total = format_money(invoice.get("total"))
    if is_draft:
        payment = "Draft for review: amounts can change until the period is closed. Do not pay this document."
    else:
        payment = (
            f"Please pay {currency} {total} by {day_text(as_date(invoice.get('due_date')))}, quoting "
            f"{invoice.get('invoice_number')}, to {', '.join(OPERATOR.bank)}."
        )
    return Document(
        is_draft=is_draft,
        invoice_number=invoice.get("invoice_number") or "",
        currency=currency,
        customer=customer,
        billing_email=invoice.get("billing_email") or "",
        details=details,
        lines=_line_rows(lines),
        subtotal=format_money(invoice.get("subtotal")),
        taxes=_tax_rows(lines),
        total=total,
        payment=payment,
        timezone=zone.key,
        calls=_call_sections(calls, zone, period, mask),
    )
