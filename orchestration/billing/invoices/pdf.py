"""An invoice as an A4 PDF in the core Helvetica font (fpdf2), the same view as the HTML page. Deterministic: the
same rows give a byte-identical file."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from orchestration.billing.invoices.document import (
    CALL_HEADINGS,
    LINE_HEADINGS,
    Document,
    build_document,
    more_calls_note,
)
from orchestration.billing.invoices.formatting import BRAND, LOGO_TEXT, OPERATOR, as_date

GREY = (95, 107, 115)
RULE = (221, 227, 231)
STRIPE = (247, 249, 250)
RED = (200, 30, 30)
# Call table: column widths (mm, 180 in all) and which are right-aligned.
CALL_WIDTHS = (29, 25, 46, 22, 14, 14, 13, 17)
CALL_RIGHT = (False, False, False, False, True, True, True, True)
CALL_ROW_H = 3.9


def pdf_text(text: str) -> str:
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
    def __init__(self, doc: Document) -> None:
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
            self.cell(90, 5, pdf_text(OPERATOR.name))
            self.set_font("Helvetica", "", 9)
            self.set_text_color(*GREY)
            label = f"Invoice {self.doc.invoice_number}" + (" – DRAFT" if self.doc.is_draft else "")
            self.cell(0, 5, pdf_text(label), align="R", new_x="LMARGIN", new_y="NEXT")
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
        self.cell(0, 4, pdf_text(legal), new_x="LMARGIN", new_y="NEXT")
        self.cell(140, 3.5, pdf_text(OPERATOR.company_number))
        self.cell(0, 3.5, f"{self.doc.invoice_number} · Page {self.page_no()} of {self.str_alias_nb_pages}", align="R")

    def fit(self, text: str, width: float) -> str:
        """Text cut with an ellipsis to fit a column; memoised, as destinations and types repeat across calls."""
        key = (text, width)
        fitted = self._fits.get(key)
        if fitted is None:
            fitted = pdf_text(text)
            if self.get_string_width(fitted) > width:
                while fitted and self.get_string_width(fitted + "…") > width:
                    fitted = fitted[:-1]
                fitted += "…"
            self._fits[key] = fitted
        return fitted


def _pdf_heading(pdf: _InvoicePDF, doc: Document) -> None:
    pdf.set_fill_color(*BRAND)
    pdf.rect(15, 15, 15, 15, style="F", round_corners=True, corner_radius=2)
    pdf.set_font("Helvetica", "B", 15)
    pdf.set_text_color(255, 255, 255)
    pdf.text(22.5 - pdf.get_string_width(LOGO_TEXT) / 2, 25, LOGO_TEXT)
    pdf.set_xy(33, 15)
    pdf.set_font("Helvetica", "B", 13)
    pdf.set_text_color(*BRAND)
    pdf.cell(100, 6, pdf_text(OPERATOR.name), new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.set_text_color(*GREY)
    pdf.cell(100, 4, pdf_text(", ".join(OPERATOR.address)), new_x="LEFT", new_y="NEXT")
    pdf.cell(100, 4, pdf_text(f"VAT {OPERATOR.vat_number} · {OPERATOR.email} · {OPERATOR.website}"))

    pdf.set_xy(115, 14)
    pdf.set_font("Helvetica", "B", 22)
    pdf.set_text_color(*BRAND)
    pdf.cell(80, 9, "INVOICE", align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.set_text_color(29, 35, 39)
    pdf.cell(80, 5, pdf_text(doc.invoice_number), align="R", new_x="LEFT", new_y="NEXT")
    if doc.is_draft:
        pdf.set_font("Helvetica", "B", 9)
        pdf.set_text_color(*RED)
        pdf.set_draw_color(*RED)
        pdf.set_line_width(0.5)
        label = pdf_text("DRAFT – NOT A TAX INVOICE")
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
        pdf.cell(28, 4.8, pdf_text(key))
        pdf.set_font("Helvetica", "B", 8.5)
        pdf.set_text_color(*(RED if value == "DRAFT" else (29, 35, 39)))
        pdf.cell(55, 4.8, pdf.fit(value, 55), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 6)


def _pdf_lines(pdf: _InvoicePDF, doc: Document) -> None:
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
            table.row([pdf_text(v) for v in row])


def _pdf_totals(pdf: _InvoicePDF, doc: Document) -> None:
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
    pdf.cell(amount_w, 4.5, pdf_text(f"Amount ({doc.currency})"), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 35, 39)
    entries = [("Subtotal", "", doc.subtotal)] + [
        (f"{t.label} on {t.applies_to}" if t.applies_to else t.label, t.base, t.amount) for t in doc.taxes
    ]
    pdf.set_draw_color(*RULE)
    for label, base, amount in entries:
        pdf.set_x(x)
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(label_w, 6, pdf.fit(label, label_w - 1), border="B")
        pdf.cell(base_w, 6, pdf_text(base), align="R", border="B")
        pdf.cell(amount_w, 6, pdf_text(amount), align="R", border="B", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(x)
    pdf.set_fill_color(*BRAND)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(label_w + base_w, 8, " Total due", fill=True)
    pdf.cell(amount_w, 8, pdf_text(f"{doc.currency} {doc.total} "), align="R", fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 35, 39)

    pdf.set_y(pdf.get_y() + 6)
    pdf.set_fill_color(*((253, 240, 240) if doc.is_draft else (242, 246, 247)))
    pdf.set_font("Helvetica", "", 8.5)
    y = pdf.get_y()
    pdf.set_x(17)
    pdf.multi_cell(178, 4.5, pdf_text(doc.payment), fill=True, padding=(2, 2), new_x="LMARGIN", new_y="NEXT")
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


def _pdf_calls(pdf: _InvoicePDF, doc: Document) -> None:
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
        pdf_text(
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
        pdf.cell(0, 5, pdf_text(f"{section.title}  ·  {section.summary}"), new_x="LMARGIN", new_y="NEXT")
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
            pdf.cell(0, 5, pdf_text(more_calls_note(section.more)), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 7)


def render_invoice_pdf(
    invoice: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], calls: Iterable[Mapping[str, Any]], timezone: str
) -> bytes:
    """The same invoice as render_invoice_html, as an A4 PDF in the core Helvetica font. Deterministic: dated by
    the invoice's issue date (else its period), and fpdf2 derives the file /ID from the content and that date."""
    doc = build_document(invoice, lines, calls, timezone, mask="*")
    pdf = _InvoicePDF(doc)
    issued = as_date(invoice.get("issue_date")) or as_date(invoice.get("billing_period")) or date(2000, 1, 1)
    pdf.set_creation_date(datetime(issued.year, issued.month, issued.day, tzinfo=UTC))
    pdf.set_title(pdf_text(f"Invoice {doc.invoice_number}"))
    pdf.set_author(pdf_text(OPERATOR.name))
    pdf.set_subject(pdf_text(f"{doc.customer[0] if doc.customer else ''}, {doc.details[2][1]}"))
    pdf.set_creator("tollhouse")
    pdf.add_page()
    _pdf_heading(pdf, doc)
    _pdf_lines(pdf, doc)
    _pdf_totals(pdf, doc)
    _pdf_calls(pdf, doc)
    return bytes(pdf.output())
