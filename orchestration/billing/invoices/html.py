"""An invoice as one self-contained HTML page (embedded CSS, no external assets), its calls itemised."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orchestration.billing.invoices.document import CALL_HEADINGS, LINE_HEADINGS, build_document, more_calls_note
from orchestration.billing.invoices.formatting import BRAND_HEX, LOGO_TEXT, OPERATOR

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
    doc = build_document(invoice, lines, calls, timezone, mask="•")
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
