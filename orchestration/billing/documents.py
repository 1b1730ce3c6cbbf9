"""Invoice documents and ERP exports (docs/billing.md): each invoice as HTML and PDF with its itemised calls, and the
invoice lines of a period as CSV and JSON.

Reads marts.fct_invoices, marts.fct_invoice_lines and marts.fct_invoice_calls. Everything here is deterministic:
the same rows give byte-identical files (ordered queries, no clock, the PDF dated by the invoice's issue date),
so re-running a closed period reproduces its documents exactly, and render_period rewrites only what changed.
Money is Decimal throughout; exports carry it as strings, never floats.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
from fpdf import FPDF
from fpdf.fonts import FontFace

from orchestration.warehouse import fetch_dicts


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
LINE_COLUMNS = ("invoice_number", "account_id", "billing_period", "status", "line_no", "line_type", "charge_type",
                "description", "reference", "quantity", "unit", "unit_price", "amount", "currency", "tax_name",
                "tax_rate", "original_period")  # fmt: skip
CALL_COLUMNS = ("invoice_number", "account_id", "billing_period", "call_id", "answer_at", "b_number", "destination",
                "call_type", "billable_seconds", "billed_seconds", "covered_seconds", "charge", "line_type",
                "original_period")  # fmt: skip
INVOICE_COLUMNS = ("invoice_number", "account_id", "billing_period", "status", "issue_date", "due_date", "currency",
                   "subtotal", "tax_total", "total", "line_count", "call_count", "account_name", "billing_email",
                   "address_line1", "city", "postcode", "country_code", "closed_at")  # fmt: skip
CENT = Decimal("0.01")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CALLS_BATCH = 10_000
# A document itemises at most this many calls per section (a trunk can make 50,000 calls a month: hundreds of
# pages nobody reads, and minutes to render); every call is in the invoice's <number>-calls.csv beside it.
ITEMISED_ROWS = 1_000


# ---------------------------------------------------------------------------------------------------------------
# Formatting


def mask_number(number: str | None, keep: int = 4, *, mask: str = "•") -> str:
    """The number with all but its last `keep` digits masked; its length stays, so a customer can still tell a
    short code from an international number. Numbers no longer than `keep` are masked whole."""
    digits = (number or "").strip().lstrip("+")
    if len(digits) <= keep:
        return mask * len(digits)
    return mask * (len(digits) - keep) + (digits[-keep:] if keep > 0 else "")


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))  # str() first: a float would carry its binary error into the Decimal


def cents(value: Any) -> Decimal | None:
    """The amount in the currency's minor unit (2 decimals), half-up, as every document and page shows it."""
    amount = _dec(value)
    return None if amount is None else amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(value: Any, grouping: bool = True) -> str:
    """Currency minor unit (2 decimals), half-up; the lines already are, this only fixes the display."""
    amount = cents(value)
    if amount is None:
        return ""
    return f"{amount:,.2f}" if grouping else f"{amount:.2f}"


def _number(value: Any, min_dp: int, max_dp: int) -> str:
    """A decimal with trailing zeros dropped down to min_dp places (12.500000 -> 12.5, 0.080000 -> 0.08)."""
    amount = _dec(value)
    if amount is None:
        return ""
    amount = amount.quantize(Decimal(1).scaleb(-max_dp), rounding=ROUND_HALF_UP)
    text = f"{amount:,.{max_dp}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(min_dp, "0")
    return f"{whole}.{frac}" if frac else whole


def _percent(rate: Any) -> str:
    value = _dec(rate)
    return "" if value is None else f"{(value * 100).normalize():f}%"


def _day(value: date | None) -> str:
    return f"{value.day} {MONTHS[value.month - 1][:3]} {value.year}" if value else ""


def _month(value: date | None) -> str:
    return f"{MONTHS[value.month - 1]} {value.year}" if value else ""


def _period_span(period: date) -> str:
    first = period.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    last = date.fromordinal(following.toordinal() - 1)
    return f"{_day(first)} – {_day(last)}"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # the document then says UTC, so the times stay true


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


# ---------------------------------------------------------------------------------------------------------------
# One view of an invoice, shared by the HTML and the PDF so that both say the same thing


@dataclass(frozen=True)
class _TaxRow:
    label: str  # "VAT 20%"
    applies_to: str
    base: str  # "" when the lines it taxes cannot be told
    amount: str


@dataclass(frozen=True)
class _CallSection:
    title: str
    summary: str
    rows: list[tuple[str, ...]]  # the first ITEMISED_ROWS
    more: int = 0  # calls left out of the document (all are in the calls CSV)


@dataclass(frozen=True)
class _Document:
    is_draft: bool
    invoice_number: str
    currency: str
    customer: tuple[str, ...]  # name first, then address lines
    billing_email: str
    details: tuple[tuple[str, str], ...]
    lines: list[tuple[str, ...]]
    subtotal: str
    taxes: list[_TaxRow]
    total: str
    payment: str
    timezone: str
    calls: list[_CallSection]


LINE_HEADINGS = ("#", "Description", "Reference", "Quantity", "Unit price", "Amount")
CALL_HEADINGS = ("Answered (local)", "Number", "Destination", "Type", "Duration", "Billed", "Bundle", "Charge")


def _tax_rows(lines: Sequence[Mapping[str, Any]]) -> list[_TaxRow]:
    """Tax lines with their base: the non-tax lines (discounts included) of the charge types the tax line names."""
    base_by_type: dict[str, Decimal] = {}
    for line in lines:
        if line.get("line_type") != "tax" and line.get("charge_type"):
            base_by_type[line["charge_type"]] = base_by_type.get(line["charge_type"], Decimal(0)) + _dec(line["amount"])
    rows = []
    for line in lines:
        if line.get("line_type") != "tax":
            continue
        types = [t.strip() for t in (line.get("charge_type") or "").split(",") if t.strip()]
        known = [t for t in types if t in base_by_type]
        base = format_money(sum((base_by_type[t] for t in known), Decimal(0))) if known else ""
        name = line.get("tax_name") or line.get("description") or "Tax"
        rate = _percent(line.get("tax_rate"))
        applies_to = ", ".join(t.replace("_", "-") for t in types)
        rows.append(_TaxRow(f"{name} {rate}".strip(), applies_to, base, format_money(line["amount"])))
    return rows


def _line_rows(lines: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    for line in lines:
        if line.get("line_type") == "tax":
            continue  # shown with its base in the tax breakdown
        description = line.get("description") or ""
        if line.get("line_type") == "adjustment" and line.get("original_period"):
            description += f" (late usage from {_month(_as_date(line['original_period']))})"
        # minutes are shown to the hundredth (the line is priced from exact seconds); counts in full
        quantity = _number(line.get("quantity"), 0, 2 if line.get("unit") == "minutes" else 6)
        if quantity and line.get("unit"):
            quantity += f" {'min' if line['unit'] == 'minutes' else line['unit']}"
        rows.append(
            (
                str(line.get("line_no") or ""),
                description,
                line.get("reference") or "",
                quantity,
                _number(line.get("unit_price"), 2, 6),
                format_money(line["amount"]),
            )
        )
    return rows


def _calls_summary(count: int, seconds: int) -> str:
    return f"{count:,} call{'' if count == 1 else 's'}, {_duration(seconds)} billed"


def _beyond(rows: list) -> int:
    return max(0, len(rows) - ITEMISED_ROWS)


def more_calls_note(more: int) -> str:
    return f"... and {more:,} more calls, listed with every other call in the invoice's calls CSV file."


def _call_sections(
    calls: Iterable[Mapping[str, Any]], zone: ZoneInfo, period: date | None, mask: str
) -> list[_CallSection]:
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
        key = _as_date(call.get("original_period")) if call.get("line_type") == "adjustment" else None
        charge = call.get("charge")
        groups.setdefault(key, []).append(
            (
                answered,
                mask_number(call.get("b_number"), mask=mask),
                call.get("destination") or "",
                call.get("call_type") or "",
                _duration(call.get("billable_seconds")),
                _duration(call.get("billed_seconds")),
                _duration(call.get("covered_seconds")) if call.get("covered_seconds") else "",
                "tier" if charge is None else _number(charge, 4, 6),
            )
        )
        seconds[key] = seconds.get(key, 0) + int(call.get("billed_seconds") or 0)
    sections = []
    if None in groups:
        rows = groups.pop(None)
        summary = _calls_summary(len(rows), seconds[None])
        sections.append(_CallSection(f"Calls in {_month(period)}", summary, rows[:ITEMISED_ROWS], _beyond(rows)))
    for key in sorted(groups, key=lambda d: d or date.min):
        title = f"Late calls from {_month(key) if key else 'a closed period'}, billed here as an adjustment"
        rows = groups[key]
        summary = _calls_summary(len(rows), seconds[key])
        sections.append(_CallSection(title, summary, rows[:ITEMISED_ROWS], _beyond(rows)))
    return sections


def _document(
    invoice: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    calls: Iterable[Mapping[str, Any]],
    timezone: str,
    mask: str,
) -> _Document:
    period = _as_date(invoice.get("billing_period"))
    zone = _zone(timezone)
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
        ("Billing period", _month(period)),
        ("Period covered", _period_span(period) if period else ""),
        ("Issue date", _day(_as_date(invoice.get("issue_date")))),
        ("Due date", _day(_as_date(invoice.get("due_date")))),
        ("Currency", currency),
        ("Status", "DRAFT" if is_draft else "Closed"),
    )
    total = format_money(invoice.get("total"))
    if is_draft:
        payment = "Draft for review: amounts can change until the period is closed. Do not pay this document."
    else:
        payment = (
            f"Please pay {currency} {total} by {_day(_as_date(invoice.get('due_date')))}, quoting "
            f"{invoice.get('invoice_number')}, to {', '.join(OPERATOR.bank)}."
        )
    return _Document(
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


# ---------------------------------------------------------------------------------------------------------------
# HTML

_CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0;background:#eef1f3;color:#1d2327;font:13px/1.45 "Helvetica Neue",Helvetica,Arial,sans-serif}}
.page{{position:relative;max-width:210mm;margin:24px auto;background:#fff;padding:18mm 15mm;
  box-shadow:0 1px 4px rgba(0,0,0,.15);overflow:hidden}}
.watermark{{position:absolute;top:260px;left:0;right:0;text-align:center;font-size:150px;font-weight:700;
  letter-spacing:12px;color:rgba(200,30,30,.10);transform:rotate(-30deg);pointer-events:none;z-index:0}}
.content{{position:relative;z-index:1}}
header{{display:flex;justify-content:space-between;align-items:flex-start;border-bottom:3px solid {BRAND_HEX};
  padding-bottom:12px}}
.brand{{display:flex;gap:12px;align-items:center}}
.logo{{width:52px;height:52px;border-radius:8px;background:{BRAND_HEX};color:#fff;font-weight:700;font-size:22px;
  display:flex;align-items:center;justify-content:center;letter-spacing:1px}}
.operator-name{{font-size:17px;font-weight:700;color:{BRAND_HEX}}}
.muted{{color:#5f6b73;font-size:11px}}
.title{{text-align:right}}
.title h1{{margin:0;font-size:28px;letter-spacing:3px;color:{BRAND_HEX}}}
.draft-label{{display:inline-block;margin-top:6px;padding:3px 10px;border:2px solid #c81e1e;color:#c81e1e;
  font-weight:700;letter-spacing:2px}}
.draft-text{{color:#c81e1e}}
.parties{{display:flex;justify-content:space-between;gap:24px;margin:18px 0}}
.label{{text-transform:uppercase;font-size:10px;letter-spacing:1px;color:#5f6b73;margin-bottom:4px}}
.customer-name{{font-weight:700;font-size:14px}}
table{{border-collapse:collapse;width:100%}}
.details td{{padding:1px 0 1px 14px}}
.details td:first-child{{color:#5f6b73;padding-left:0}}
.details{{width:auto}}
.grid th{{background:{BRAND_HEX};color:#fff;font-weight:600;text-align:left;padding:6px 8px;font-size:11px}}
.grid td{{padding:5px 8px;border-bottom:1px solid #dde3e7;vertical-align:top}}
.grid tr:nth-child(even) td{{background:#f7f9fa}}
.num{{text-align:right!important;white-space:nowrap;font-variant-numeric:tabular-nums}}
.ref{{color:#5f6b73;font-size:11px}}
.totals{{width:auto;margin:14px 0 0 auto;min-width:55%}}
.totals td{{padding:4px 8px}}
.totals .grand td{{background:{BRAND_HEX};color:#fff;font-weight:700;font-size:15px}}
.payment{{margin:18px 0;padding:10px 12px;border-left:4px solid {BRAND_HEX};background:#f2f6f7}}
.draft .payment{{border-left-color:#c81e1e;background:#fdf0f0}}
h2{{font-size:15px;color:{BRAND_HEX};margin:26px 0 4px}}
h3{{font-size:13px;margin:14px 0 6px}}
.calls td,.calls th{{font-size:11px;padding:3px 6px}}
footer{{margin-top:24px;border-top:1px solid #dde3e7;padding-top:8px;text-align:center}}
@media print{{body{{background:#fff}}.page{{margin:0;box-shadow:none;max-width:none}}
  thead{{display:table-header-group}}tr{{break-inside:avoid}}}}
"""


def _cells(row: Sequence[str], numeric: frozenset[int], tag: str = "td") -> str:
    return "".join(
        f'<{tag} class="num">{html.escape(v)}</{tag}>' if i in numeric else f"<{tag}>{html.escape(v)}</{tag}>"
        for i, v in enumerate(row)
    )


def render_invoice_html(
    invoice: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], calls: Iterable[Mapping[str, Any]], timezone: str
) -> str:
    """The invoice as one self-contained HTML page (embedded CSS, no external assets), calls itemised."""
    doc = _document(invoice, lines, calls, timezone, mask="•")
    e = html.escape
    out: list[str] = [
        "<!DOCTYPE html>\n",
        f'<html lang="en"><head><meta charset="utf-8"><title>Invoice {e(doc.invoice_number)}</title>',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_CSS}</style></head>\n",
        f'<body class="{"draft" if doc.is_draft else "closed"}"><div class="page">',
    ]
    if doc.is_draft:
        out.append('<div class="watermark" aria-hidden="true">DRAFT</div>')
    out.append('<div class="content"><header><div class="brand">')
    out.append(f'<div class="logo" aria-hidden="true">{e(LOGO_TEXT)}</div><div>')
    out.append(f'<div class="operator-name">{e(OPERATOR.name)}</div>')
    out.append(f'<div class="muted">{e(", ".join(OPERATOR.address))}<br>VAT {e(OPERATOR.vat_number)} · ')
    out.append(f"{e(OPERATOR.email)} · {e(OPERATOR.website)}</div></div></div>")
    out.append(f'<div class="title"><h1>INVOICE</h1><div>{e(doc.invoice_number)}</div>')
    if doc.is_draft:
        out.append('<div class="draft-label">DRAFT – NOT A TAX INVOICE</div>')
    out.append("</div></header>\n")

    out.append('<section class="parties"><div><div class="label">Bill to</div>')
    out.append(f'<div class="customer-name">{e(doc.customer[0]) if doc.customer else ""}</div>')
    out.extend(f"<div>{e(part)}</div>" for part in doc.customer[1:])
    if doc.billing_email:
        out.append(f'<div class="muted">{e(doc.billing_email)}</div>')
    out.append('</div><table class="details">')
    for key, value in doc.details:
        mark = ' class="draft-text"' if value == "DRAFT" else ""
        out.append(f"<tr><td>{e(key)}</td><td><strong{mark}>{e(value)}</strong></td></tr>")
    out.append("</table></section>\n")

    out.append(f'<table class="grid lines"><thead><tr>{_cells(LINE_HEADINGS, frozenset({3, 4, 5}), "th")}')
    out.append("</tr></thead><tbody>")
    for row in doc.lines:
        out.append(f'<tr>{_cells(row[:2], frozenset())}<td class="ref">{e(row[2])}</td>')
        out.append(f"{_cells(row[3:], frozenset({0, 1, 2}))}</tr>")
    out.append("</tbody></table>\n")

    out.append('<table class="totals"><thead><tr><td></td><td class="num muted">Taxable base</td>')
    out.append(f'<td class="num muted">Amount ({e(doc.currency)})</td></tr></thead><tbody>')
    out.append(f'<tr><td>Subtotal</td><td></td><td class="num">{e(doc.subtotal)}</td></tr>')
    for tax in doc.taxes:
        applies = f' <span class="muted">on {e(tax.applies_to)}</span>' if tax.applies_to else ""
        out.append(f'<tr class="tax"><td>{e(tax.label)}{applies}</td><td class="num">{e(tax.base)}</td>')
        out.append(f'<td class="num">{e(tax.amount)}</td></tr>')
    out.append(f'<tr class="grand"><td>Total due</td><td></td><td class="num">{e(doc.currency)} {e(doc.total)}')
    out.append("</td></tr></tbody></table>\n")
    out.append(f'<div class="payment">{e(doc.payment)}</div>\n')

    out.append("<h2>Itemised calls</h2>")
    out.append(f'<div class="muted">Times in {e(doc.timezone)}. Numbers are masked except their last 4 digits. ')
    out.append("Charges in the invoice currency; “tier”: priced by a volume tier in the lines above.</div>\n")
    if not doc.calls:
        out.append("<p>No calls were billed on this invoice.</p>")
    numeric = frozenset({4, 5, 6, 7})
    heading = _cells(CALL_HEADINGS, numeric, "th")
    for section in doc.calls:
        out.append(f'<h3>{e(section.title)} <span class="muted">{e(section.summary)}</span></h3>')
        out.append(f'<table class="grid calls"><thead><tr>{heading}</tr></thead><tbody>\n')
        out.extend(f"<tr>{_cells(row, numeric)}</tr>\n" for row in section.rows)
        out.append("</tbody></table>\n")
        if section.more:
            out.append(f'<p class="muted">{e(more_calls_note(section.more))}</p>\n')

    out.append(f'<footer class="muted">{e(OPERATOR.name)} · {e(", ".join(OPERATOR.address))} · ')
    out.append(f"VAT {e(OPERATOR.vat_number)}<br>{e(OPERATOR.company_number)}</footer>")
    out.append("</div></div></body></html>\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------------
# PDF

GREY = (95, 107, 115)
RULE = (221, 227, 231)
STRIPE = (247, 249, 250)
RED = (200, 30, 30)
# Call table: column widths (mm, 180 in all) and which are right-aligned.
CALL_WIDTHS = (29, 25, 46, 22, 14, 14, 13, 17)
CALL_RIGHT = (False, False, False, False, True, True, True, True)
CALL_ROW_H = 3.9


def _pdf_text(text: str) -> str:
    """Text the core fonts can show (Windows-1252): accents decomposed where needed, anything else as '?'."""
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            out.append(base if base and all(ord(c) < 128 for c in base) else "?")
    return "".join(out)


class _InvoicePDF(FPDF):
    def __init__(self, doc: _Document) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc = doc
        self.core_fonts_encoding = "cp1252"  # £, €, en dash and bullet, which Latin-1 lacks
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=20)
        self._fits: dict[tuple[str, float], str] = {}
        # The page-count alias reserves one digit less than its own length; an invoice with tens of thousands of
        # calls runs to four or five digits of pages, which the default "{nb}" (three) would overprint.
        pages = 2 + sum(len(section.rows) for section in doc.calls) // 60
        self.alias_nb_pages("{" + "n" * max(2, len(str(pages))) + "}")

    def header(self) -> None:
        if self.doc.is_draft:  # drawn first, so the page's content lies over it
            with self.local_context(text_color=(250, 215, 215)), self.rotation(angle=35, x=105, y=160):
                self.set_font("Helvetica", "B", 120)
                self.text(105 - self.get_string_width("DRAFT") / 2, 175, "DRAFT")
        if self.page > 1:
            self.set_font("Helvetica", "B", 9)
            self.set_text_color(*BRAND)
            self.cell(90, 5, _pdf_text(OPERATOR.name))
            self.set_font("Helvetica", "", 9)
            self.set_text_color(*GREY)
            label = f"Invoice {self.doc.invoice_number}" + (" – DRAFT" if self.doc.is_draft else "")
            self.cell(0, 5, _pdf_text(label), align="R", new_x="LMARGIN", new_y="NEXT")
            self.set_draw_color(*BRAND)
            self.set_line_width(0.4)
            self.line(15, self.get_y() + 1, 195, self.get_y() + 1)
            self.set_y(self.get_y() + 4)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(15, self.get_y(), 195, self.get_y())
        self.set_font("Helvetica", "", 7)
        self.set_text_color(*GREY)
        legal = f"{OPERATOR.name} · {', '.join(OPERATOR.address)} · VAT {OPERATOR.vat_number}"
        self.cell(0, 4, _pdf_text(legal), new_x="LMARGIN", new_y="NEXT")
        self.cell(140, 3.5, _pdf_text(OPERATOR.company_number))
        self.cell(0, 3.5, f"{self.doc.invoice_number} · Page {self.page_no()} of {self.str_alias_nb_pages}", align="R")

    def fit(self, text: str, width: float) -> str:
        """Text cut with an ellipsis to fit a column; memoised, as destinations and types repeat across calls."""
        key = (text, width)
        fitted = self._fits.get(key)
        if fitted is None:
            fitted = _pdf_text(text)
            if self.get_string_width(fitted) > width:
                while fitted and self.get_string_width(fitted + "…") > width:
                    fitted = fitted[:-1]
                fitted += "…"
            self._fits[key] = fitted
        return fitted


def _pdf_heading(pdf: _InvoicePDF, doc: _Document) -> None:
    pdf.set_fill_color(*BRAND)
    pdf.rect(15, 15, 15, 15, style="F", round_corners=True, corner_radius=2)
    pdf.set_font("Helvetica", "B", 15)
    pdf.set_text_color(255, 255, 255)
    pdf.text(22.5 - pdf.get_string_width(LOGO_TEXT) / 2, 25, LOGO_TEXT)
    pdf.set_xy(33, 15)
    pdf.set_font("Helvetica", "B", 13)
    pdf.set_text_color(*BRAND)
    pdf.cell(100, 6, _pdf_text(OPERATOR.name), new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.set_text_color(*GREY)
    pdf.cell(100, 4, _pdf_text(", ".join(OPERATOR.address)), new_x="LEFT", new_y="NEXT")
    pdf.cell(100, 4, _pdf_text(f"VAT {OPERATOR.vat_number} · {OPERATOR.email} · {OPERATOR.website}"))

    pdf.set_xy(115, 14)
    pdf.set_font("Helvetica", "B", 22)
    pdf.set_text_color(*BRAND)
    pdf.cell(80, 9, "INVOICE", align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.set_text_color(29, 35, 39)
    pdf.cell(80, 5, _pdf_text(doc.invoice_number), align="R", new_x="LEFT", new_y="NEXT")
    if doc.is_draft:
        pdf.set_font("Helvetica", "B", 9)
        pdf.set_text_color(*RED)
        pdf.set_draw_color(*RED)
        pdf.set_line_width(0.5)
        label = _pdf_text("DRAFT – NOT A TAX INVOICE")
        width = pdf.get_string_width(label) + 6
        pdf.set_xy(195 - width, pdf.get_y() + 1)
        pdf.cell(width, 6, label, border=1, align="C")
    pdf.set_draw_color(*BRAND)
    pdf.set_line_width(0.8)
    pdf.line(15, 36, 195, 36)

    # Bill to (left) and the invoice's details (right).
    top = 41
    pdf.set_xy(15, top)
    pdf.set_font("Helvetica", "", 7)
    pdf.set_text_color(*GREY)
    pdf.cell(90, 4, "BILL TO", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 35, 39)
    for i, part in enumerate(doc.customer):
        pdf.set_font("Helvetica", "B" if i == 0 else "", 10 if i == 0 else 9)
        pdf.cell(90, 5 if i == 0 else 4.5, pdf.fit(part, 90), new_x="LMARGIN", new_y="NEXT")
    if doc.billing_email:
        pdf.set_font("Helvetica", "", 8)
        pdf.set_text_color(*GREY)
        pdf.cell(90, 4.5, pdf.fit(doc.billing_email, 90), new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    for key, value in doc.details:
        pdf.set_x(112)
        pdf.set_font("Helvetica", "", 8.5)
        pdf.set_text_color(*GREY)
        pdf.cell(28, 4.8, _pdf_text(key))
        pdf.set_font("Helvetica", "B", 8.5)
        pdf.set_text_color(*(RED if value == "DRAFT" else (29, 35, 39)))
        pdf.cell(55, 4.8, pdf.fit(value, 55), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 6)


def _pdf_lines(pdf: _InvoicePDF, doc: _Document) -> None:
    pdf.set_font("Helvetica", "", 8.5)
    pdf.set_text_color(29, 35, 39)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.set_fill_color(*STRIPE)  # fpdf2 stripes rows with the current fill colour, not cell_fill_color
    headings = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=BRAND)
    with pdf.table(
        col_widths=(7, 64, 37, 26, 20, 26),
        text_align=("RIGHT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=headings,
        borders_layout="HORIZONTAL_LINES",
        line_height=4.6,
        cell_fill_color=STRIPE,
        cell_fill_mode="ROWS",
        padding=(1.2, 1.5),
        width=180,
    ) as table:
        table.row(LINE_HEADINGS)
        for row in doc.lines:
            table.row([_pdf_text(v) for v in row])


def _pdf_totals(pdf: _InvoicePDF, doc: _Document) -> None:
    # Label | taxable base | amount, right half of the page; kept together on one page.
    rows = 2 + len(doc.taxes)
    if pdf.get_y() + 6 + rows * 6 + 20 > pdf.page_break_trigger:
        pdf.add_page()
    x, label_w, base_w, amount_w = 85, 60, 25, 25
    pdf.set_y(pdf.get_y() + 3)
    pdf.set_x(x)
    pdf.set_font("Helvetica", "", 7.5)
    pdf.set_text_color(*GREY)
    pdf.cell(label_w, 4.5, "")
    pdf.cell(base_w, 4.5, "Taxable base", align="R")
    pdf.cell(amount_w, 4.5, _pdf_text(f"Amount ({doc.currency})"), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 35, 39)
    entries = [("Subtotal", "", doc.subtotal)] + [
        (f"{t.label} on {t.applies_to}" if t.applies_to else t.label, t.base, t.amount) for t in doc.taxes
    ]
    pdf.set_draw_color(*RULE)
    for label, base, amount in entries:
        pdf.set_x(x)
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(label_w, 6, pdf.fit(label, label_w - 1), border="B")
        pdf.cell(base_w, 6, _pdf_text(base), align="R", border="B")
        pdf.cell(amount_w, 6, _pdf_text(amount), align="R", border="B", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(x)
    pdf.set_fill_color(*BRAND)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(label_w + base_w, 8, " Total due", fill=True)
    pdf.cell(
        amount_w, 8, _pdf_text(f"{doc.currency} {doc.total} "), align="R", fill=True, new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_text_color(29, 35, 39)

    pdf.set_y(pdf.get_y() + 6)
    pdf.set_fill_color(*((253, 240, 240) if doc.is_draft else (242, 246, 247)))
    pdf.set_font("Helvetica", "", 8.5)
    y = pdf.get_y()
    pdf.set_x(17)
    pdf.multi_cell(178, 4.5, _pdf_text(doc.payment), fill=True, padding=(2, 2), new_x="LMARGIN", new_y="NEXT")
    pdf.set_fill_color(*(RED if doc.is_draft else BRAND))
    pdf.rect(15, y, 1.2, pdf.get_y() - y, style="F")


def _pdf_call_heading(pdf: _InvoicePDF) -> None:
    pdf.set_fill_color(*BRAND)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 7)
    y = pdf.get_y()
    pdf.rect(15, y, 180, CALL_ROW_H + 0.6, style="F")
    x = 15.0
    for heading, width, right in zip(CALL_HEADINGS, CALL_WIDTHS, CALL_RIGHT, strict=True):
        pdf.text(x + width - 1 - pdf.get_string_width(heading) if right else x + 1, y + 3, heading)
        x += width
    pdf.set_y(y + CALL_ROW_H + 0.6)
    pdf.set_text_color(29, 35, 39)
    pdf.set_font("Helvetica", "", 7)


def _pdf_calls(pdf: _InvoicePDF, doc: _Document) -> None:
    # Tens of thousands of rows: text() at computed positions, about ten times faster than cell(); the
    # page break and the repeated heading are handled here.
    pdf.set_y(pdf.get_y() + 6)
    if pdf.get_y() + 30 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font("Helvetica", "B", 11)
    pdf.set_text_color(*BRAND)
    pdf.cell(0, 6, "Itemised calls", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 7.5)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(
        0,
        3.8,
        _pdf_text(
            f"Times in {doc.timezone}. Numbers are masked except their last 4 digits. Charges in {doc.currency}; "
            "'tier': priced by a volume tier in the lines above."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if not doc.calls:
        pdf.set_text_color(29, 35, 39)
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 8, "No calls were billed on this invoice.", new_x="LMARGIN", new_y="NEXT")
    width_of = pdf.get_string_width
    for section in doc.calls:
        if pdf.get_y() + 20 > pdf.page_break_trigger:
            pdf.add_page()
        pdf.set_y(pdf.get_y() + 3)
        pdf.set_font("Helvetica", "B", 9)
        pdf.set_text_color(29, 35, 39)
        pdf.cell(0, 5, _pdf_text(f"{section.title}  ·  {section.summary}"), new_x="LMARGIN", new_y="NEXT")
        _pdf_call_heading(pdf)
        pdf.set_fill_color(*STRIPE)
        for i, row in enumerate(section.rows):
            if pdf.get_y() + CALL_ROW_H > pdf.page_break_trigger:
                pdf.add_page()
                _pdf_call_heading(pdf)
                pdf.set_fill_color(*STRIPE)
            y = pdf.get_y()
            if i % 2:
                pdf.rect(15, y, 180, CALL_ROW_H, style="F")
            x = 15.0
            for value, width, right in zip(row, CALL_WIDTHS, CALL_RIGHT, strict=True):
                if value:
                    text = pdf.fit(value, width - 2) if not right else value
                    pdf.text(x + width - 1 - width_of(text) if right else x + 1, y + 2.8, text)
                x += width
            pdf.set_y(y + CALL_ROW_H)
        if section.more:
            pdf.set_font("Helvetica", "I", 7.5)
            pdf.set_text_color(*GREY)
            pdf.cell(0, 5, _pdf_text(more_calls_note(section.more)), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 7)


def render_invoice_pdf(
    invoice: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], calls: Iterable[Mapping[str, Any]], timezone: str
) -> bytes:
    """The same invoice as render_invoice_html, as an A4 PDF in the core Helvetica font. Deterministic: dated by
    the invoice's issue date (else its period), and fpdf2 derives the file /ID from the content and that date."""
    doc = _document(invoice, lines, calls, timezone, mask="*")
    pdf = _InvoicePDF(doc)
    issued = _as_date(invoice.get("issue_date")) or _as_date(invoice.get("billing_period")) or date(2000, 1, 1)
    pdf.set_creation_date(datetime(issued.year, issued.month, issued.day, tzinfo=UTC))
    pdf.set_title(_pdf_text(f"Invoice {doc.invoice_number}"))
    pdf.set_author(_pdf_text(OPERATOR.name))
    pdf.set_subject(_pdf_text(f"{doc.customer[0] if doc.customer else ''}, {doc.details[2][1]}"))
    pdf.set_creator("tollhouse")
    pdf.add_page()
    _pdf_heading(pdf, doc)
    _pdf_lines(pdf, doc)
    _pdf_totals(pdf, doc)
    _pdf_calls(pdf, doc)
    return bytes(pdf.output())


# ---------------------------------------------------------------------------------------------------------------
# Exports for an ERP or general ledger


def _plain(value: Any) -> Any:
    """A value for CSV/JSON: decimals as exact strings at their stored scale, dates in ISO 8601."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _export_row(line: Mapping[str, Any]) -> dict[str, Any]:
    row = {column: _plain(line.get(column)) for column in LINE_COLUMNS}
    row["amount"] = format_money(line.get("amount"), grouping=False) or None
    return row


def _sorted_lines(lines: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(lines, key=lambda line: (str(line.get("invoice_number")), int(line.get("line_no") or 0)))


def export_lines_csv(lines: Iterable[Mapping[str, Any]]) -> str:
    """Invoice lines as CSV (RFC 4180), one row per line in (invoice_number, line_no) order, amounts with 2
    decimals, quantities, prices and rates exact; empty field for null."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LINE_COLUMNS)
    for line in _sorted_lines(lines):
        row = _export_row(line)
        writer.writerow("" if row[c] is None else row[c] for c in LINE_COLUMNS)
    return buffer.getvalue()


def export_calls_csv(calls: Iterable[Mapping[str, Any]], timezone: str) -> str:
    """Every call of an invoice, as itemised (numbers masked but for their last 4 digits, local answer time),
    for a customer's own reconciliation: the documents itemise only the first ITEMISED_ROWS."""
    zone = _zone(timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("call_id", "answered_local", "number", "destination", "call_type", "billable_seconds",
                     "billed_seconds", "bundle_seconds", "charge", "line_type", "original_period"))  # fmt: skip
    for call in calls:
        answer_at = call.get("answer_at")
        local = answer_at.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if answer_at else ""
        charge = call.get("charge")
        writer.writerow((
            call.get("call_id"), local, mask_number(call.get("b_number"), mask="*"), call.get("destination") or "",
            call.get("call_type") or "", call.get("billable_seconds"), call.get("billed_seconds"),
            call.get("covered_seconds") or 0, "" if charge is None else str(charge), call.get("line_type"),
            call.get("original_period") or "",
        ))  # fmt: skip
    return out.getvalue()


def export_lines_json(lines: Iterable[Mapping[str, Any]]) -> str:
    """Invoice lines as a JSON array in (invoice_number, line_no) order; every decimal a string (no floats)."""
    rows = [_export_row(line) for line in _sorted_lines(lines)]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def export_gl_csv(rows: Iterable[Mapping[str, Any]], path: Path) -> bool:
    """Any query's rows (e.g. a general-ledger journal) as CSV at `path`, columns in the first row's order,
    decimals exact. Written atomically and only when the content changed; returns whether it was written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns: list[str] | None = None
    for row in rows:
        if columns is None:
            columns = list(row)
            writer.writerow(columns)
        writer.writerow("" if row.get(c) is None else _plain(row.get(c)) for c in columns)
    return write_if_changed(Path(path), buffer.getvalue().encode())


# ---------------------------------------------------------------------------------------------------------------
# The warehouse side


def write_if_changed(path: Path, content: bytes) -> bool:
    """Write `content` to `path` through a temporary file and os.replace, so a reader never sees half a file;
    leave the file alone (mtime too) when it already holds exactly this. Returns whether it was written."""
    try:
        if path.stat().st_size == len(content) and path.read_bytes() == content:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes(content)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return True


def _invoice_filter(statuses: Sequence[str]) -> str:
    if not statuses:
        raise ValueError("statuses must name at least one invoice status")
    return f"i.billing_period = ? and i.status in ({', '.join('?' for _ in statuses)})"


def fetch_lines(
    con: duckdb.DuckDBPyConnection,
    billing_period: date,
    statuses: Sequence[str] = ("closed",),
    invoice_number: str | None = None,
) -> list[dict[str, Any]]:
    """The invoice lines of a period (or of one invoice in it) with their invoice's status, for the exports."""
    columns = ", ".join("i.status" if c == "status" else f"l.{c}" for c in LINE_COLUMNS)
    sql = (
        f"select {columns} from marts.fct_invoice_lines l join marts.fct_invoices i "
        f"on i.invoice_number = l.invoice_number where {_invoice_filter(statuses)}"
    )
    params: list[Any] = [billing_period, *statuses]
    if invoice_number is not None:
        sql += " and i.invoice_number = ?"
        params.append(invoice_number)
    return fetch_dicts(con, sql + " order by l.invoice_number, l.line_no", params)


def _relation_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str, columns: Sequence[str] = ()) -> bool:
    found = con.execute(
        "select count(*), count(distinct column_name) filter (where column_name in (select unnest(?))) "
        "from information_schema.columns where table_schema = ? and table_name = ?",
        [list(columns), schema, name],
    ).fetchone()
    return found[0] > 0 and found[1] == len(set(columns))


def account_timezones(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each account's IANA zone from staging.stg_crm__accounts; empty when that relation is not built (then the
    documents show UTC)."""
    if not _relation_exists(con, "staging", "stg_crm__accounts", ("account_id", "timezone")):
        return {}
    rows = con.execute(
        "select account_id, max(timezone) from staging.stg_crm__accounts where timezone is not null group by account_id"
    ).fetchall()
    return dict(rows)


def _call_groups(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> Iterator[tuple[str, list[dict]]]:
    """The period's calls, one invoice at a time, fetched in batches so a large period never sits in memory."""
    columns = ", ".join(f"c.{c}" for c in CALL_COLUMNS)
    cursor = con.execute(
        f"select {columns} from marts.fct_invoice_calls c join marts.fct_invoices i "
        f"on i.invoice_number = c.invoice_number where {where} order by c.invoice_number, c.answer_at, c.call_id",
        params,
    )
    current: str | None = None
    group: list[dict] = []
    while batch := cursor.fetchmany(CALLS_BATCH):
        for row in batch:
            call = dict(zip(CALL_COLUMNS, row, strict=True))
            if call["invoice_number"] != current:
                if group:
                    yield current, group
                current, group = call["invoice_number"], []
            group.append(call)
    if group:
        yield current, group


def render_period(
    con: duckdb.DuckDBPyConnection, billing_period: date, out_dir: Path, statuses: Sequence[str] = ("closed",)
) -> list[Path]:
    """Render the period's invoices with the given statuses: out_dir/YYYY-MM/<invoice_number>.html and .pdf,
    and the period's invoice_lines.csv and invoice_lines.json. Files whose content is unchanged are not
    rewritten. Returns every document's path, sorted."""
    statuses = tuple(statuses)
    where = _invoice_filter(statuses)
    params: list[Any] = [billing_period, *statuses]
    columns = ", ".join(f"i.{c}" for c in INVOICE_COLUMNS)
    invoices = {
        row["invoice_number"]: row
        for row in fetch_dicts(
            con, f"select {columns} from marts.fct_invoices i where {where} order by i.invoice_number", params
        )
    }
    for number in invoices:
        if not SAFE_NAME.fullmatch(number):
            raise ValueError(f"invoice number {number!r} cannot be a file name")
    lines = fetch_lines(con, billing_period, statuses)
    lines_by_invoice: dict[str, list[dict]] = {}
    for line in lines:
        lines_by_invoice.setdefault(line["invoice_number"], []).append(line)
    zones = account_timezones(con)
    folder = Path(out_dir) / f"{billing_period:%Y-%m}"
    paths: list[Path] = []

    def render(number: str, calls: list[dict]) -> None:
        invoice = invoices[number]
        zone = zones.get(invoice["account_id"], "UTC")
        invoice_lines = lines_by_invoice.get(number, [])
        html_path, pdf_path = folder / f"{number}.html", folder / f"{number}.pdf"
        write_if_changed(html_path, render_invoice_html(invoice, invoice_lines, calls, zone).encode())
        write_if_changed(pdf_path, render_invoice_pdf(invoice, invoice_lines, calls, zone))
        calls_path = folder / f"{number}-calls.csv"
        write_if_changed(calls_path, export_calls_csv(calls, zone).encode())
        paths.extend((html_path, pdf_path, calls_path))

    rendered = set()
    for number, calls in _call_groups(con, where, params):
        if number in invoices:
            render(number, calls)
            rendered.add(number)
    for number in invoices:
        if number not in rendered:
            render(number, [])  # recurring charges only, no calls
    for name, content in (
        ("invoice_lines.csv", export_lines_csv(lines)),
        ("invoice_lines.json", export_lines_json(lines)),
    ):
        write_if_changed(folder / name, content.encode())
        paths.append(folder / name)
    if "closed" in statuses and _relation_exists(con, "marts", "fct_gl_journal"):
        journal = fetch_dicts(
            con,
            "select * from marts.fct_gl_journal where billing_period = ? order by invoice_number, gl_account, entry",
            [billing_period],
        )
        export_gl_csv(journal, folder / "gl_journal.csv")
        paths.append(folder / "gl_journal.csv")
    return sorted(paths)
