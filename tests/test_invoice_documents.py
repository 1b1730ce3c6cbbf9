"""Invoice documents and exports (orchestration/billing/) on a small real DuckDB holding the three invoice marts.

Two invoices for October 2026, worked out by hand:

INV-202610-ACC-0001, GBP, closed, account in Europe/London:
  1 usage      UK mobile    12.5 min x 0.08       =  1.00
  2 usage      UK fixed     30 min   x 0.01       =  0.30
  3 usage      Germany      3.25 min x 0.02 = 0.065 -> 0.07 (half-up)
  4 recurring  SIP trunk    17 days  x 1.25       = 21.25
  5 discount   10% off the trunk: 2.125           -> -2.13
  6 tax        VAT 20% on usage and recurring: base 1.00 + 0.30 + 0.07 + 21.25 - 2.13 = 20.49; 4.098 -> 4.10
  subtotal 20.49, tax 4.10, total 24.59
INV-202610-ACC-0002, EUR, draft, account in Europe/Berlin:
  1 usage      Germany mobile 10 min x 0.15 = 1.50
  2 tax        MwSt 19% on 1.50 = 0.285 -> 0.29
  subtotal 1.50, tax 0.29, total 1.79
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from orchestration.billing.invoices.document import ITEMISED_ROWS
from orchestration.billing.invoices.exports import export_calls_csv, export_gl_csv, export_lines_csv, export_lines_json
from orchestration.billing.invoices.formatting import mask_number
from orchestration.billing.invoices.html import render_invoice_html
from orchestration.billing.invoices.pdf import render_invoice_pdf
from orchestration.billing.invoices.period import fetch_lines, render_period
from orchestration.settings import REPO_ROOT
from orchestration.warehouse import fetch_dicts

PERIOD = date(2026, 10, 1)
GB, DE = "INV-202610-ACC-0001", "INV-202610-ACC-0002"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"

INVOICES = [
    # invoice_number, account_id, billing_period, status, issue_date, due_date, currency, subtotal, tax_total, total,
    # line_count, call_count, account_name, billing_email, address_line1, city, postcode, country_code, closed_at
    (GB, "ACC-00001", PERIOD, "closed", date(2026, 11, 1), date(2026, 12, 1), "GBP", "20.49", "4.10", "24.59", 6, 3,
     "Kestrel & Finch <Legal> Ltd", "billing@kestrel.example", "1 High Street", "Leeds", "LS1 0AA", "GB",
     datetime(2026, 11, 1, 2, 0)),
    (DE, "ACC-00002", PERIOD, "draft", date(2026, 11, 1), date(2026, 11, 15), "EUR", "1.50", "0.29", "1.79", 2, 1,
     "Lumen Dental Partners GmbH", "billing@lumen.example", "Bahnhofstraße 38", "Hamburg", "20013", "DE", None),
]  # fmt: skip
LINES = [
    # invoice_number, account_id, billing_period, line_no, line_type, charge_type, description, reference, quantity,
    # unit, unit_price, amount, currency, tax_name, tax_rate, original_period
    (GB, "ACC-00001", PERIOD, 1, "usage", "usage", "Calls to United Kingdom - Mobile", None, "12.5", "minutes",
     "0.08", "1.00", "GBP", None, None, None),
    (GB, "ACC-00001", PERIOD, 2, "usage", "usage", "Calls to United Kingdom - Fixed", None, "30", "minutes", "0.01",
     "0.30", "GBP", None, None, None),
    (GB, "ACC-00001", PERIOD, 3, "usage", "usage", "Calls to Germany - Fixed", None, "3.25", "minutes", "0.02", "0.07",
     "GBP", None, None, None),
    (GB, "ACC-00001", PERIOD, 4, "recurring", "recurring", "SIP trunk, 10 channels (15-31 Oct)", "SUB-000017", "17",
     "days", "1.25", "21.25", "GBP", None, None, None),
    (GB, "ACC-00001", PERIOD, 5, "discount", "recurring", "Welcome offer: 10% off the trunk", "PROMO-WELCOME10", None,
     None, None, "-2.13", "GBP", None, None, None),
    (GB, "ACC-00001", PERIOD, 6, "tax", "usage,recurring", "VAT 20%", "GB-VAT", None, None, None, "4.10", "GBP",
     "VAT", "0.200000", None),
    (DE, "ACC-00002", PERIOD, 1, "usage", "usage", "Calls to Germany - Mobile", None, "10", "minutes", "0.15", "1.50",
     "EUR", None, None, None),
    (DE, "ACC-00002", PERIOD, 2, "tax", "usage", "MwSt 19%", "DE-MWST", None, None, None, "0.29", "EUR", "MwSt",
     "0.190000", None),
]  # fmt: skip
CALLS = [
    # invoice_number, account_id, billing_period, call_id, answer_at (UTC), b_number, destination, call_type,
    # billable_seconds, billed_seconds, covered_seconds, charge, line_type, original_period
    (GB, "ACC-00001", PERIOD, "c-001", datetime(2026, 10, 3, 13, 5, 9), "447700900123", "United Kingdom - Mobile",
     "mobile", 750, 750, 0, "1.000000", "usage", None),
    (GB, "ACC-00001", PERIOD, "c-002", datetime(2026, 10, 30, 10, 0, 0), "441132496000", "United Kingdom - Fixed",
     "fixed", 1795, 1800, 60, "0.300000", "usage", None),
    (GB, "ACC-00001", PERIOD, "c-003", datetime(2026, 10, 12, 8, 30, 0), "4930123456789", "Germany - Fixed", "fixed",
     195, 195, 0, "0.065000", "usage", None),
    (DE, "ACC-00002", PERIOD, "c-101", datetime(2026, 10, 5, 9, 15, 0), "4915112345678", "Germany - Mobile", "mobile",
     600, 600, 0, "1.500000", "usage", None),
]  # fmt: skip
FULL_NUMBERS = [call[5] for call in CALLS]


def build_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create schema staging")
    con.execute("""create table marts.fct_invoices (invoice_number varchar, account_id varchar, billing_period date,
        status varchar, issue_date date, due_date date, currency varchar, subtotal decimal(18,2),
        tax_total decimal(18,2), total decimal(18,2), line_count integer, call_count bigint, account_name varchar,
        billing_email varchar, address_line1 varchar, city varchar, postcode varchar, country_code varchar,
        closed_at timestamp)""")
    con.execute("""create table marts.fct_invoice_lines (invoice_number varchar, account_id varchar,
        billing_period date, line_no integer, line_type varchar, charge_type varchar, description varchar,
        reference varchar, quantity decimal(18,6), unit varchar, unit_price decimal(18,6), amount decimal(18,2),
        currency varchar, tax_name varchar, tax_rate decimal(9,6), original_period date)""")
    con.execute("""create table marts.fct_invoice_calls (invoice_number varchar, account_id varchar,
        billing_period date, call_id varchar, answer_at timestamp, b_number varchar, destination varchar,
        call_type varchar, billable_seconds integer, billed_seconds integer, covered_seconds integer,
        charge decimal(18,6), line_type varchar, original_period date)""")
    con.execute("create table staging.stg_crm__accounts (account_id varchar, timezone varchar)")
    # Inserted out of order: every output must come out sorted all the same.
    con.executemany(f"insert into marts.fct_invoices values ({', '.join('?' * 19)})", INVOICES[::-1])
    con.executemany(f"insert into marts.fct_invoice_lines values ({', '.join('?' * 16)})", LINES[::-1])
    con.executemany(f"insert into marts.fct_invoice_calls values ({', '.join('?' * 14)})", CALLS[::-1])
    con.executemany("insert into staging.stg_crm__accounts values (?, ?)",
                    [("ACC-00001", "Europe/London"), ("ACC-00002", "Europe/Berlin")])  # fmt: skip
    return con


@pytest.fixture
def con(tmp_path: Path):
    connection = build_warehouse(tmp_path / "invoices.duckdb")
    yield connection
    connection.close()


def invoice_inputs(con: duckdb.DuckDBPyConnection, number: str):
    invoice = fetch_dicts(con, "select * from marts.fct_invoices where invoice_number = ?", [number])[0]
    lines = fetch_dicts(
        con, "select * from marts.fct_invoice_lines where invoice_number = ? order by line_no", [number]
    )
    calls = fetch_dicts(
        con, "select * from marts.fct_invoice_calls where invoice_number = ? order by answer_at, call_id", [number]
    )
    return invoice, lines, calls


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def poppler(tool: str) -> str:
    """A poppler-utils tool, installed from Debian (as root) when missing, as test_browser.py installs chromium."""
    found = shutil.which(tool)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{tool} (poppler-utils) is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "poppler-utils"], check=True, env=env, capture_output=True,
                   timeout=900)  # fmt: skip
    return shutil.which(tool) or pytest.fail(f"apt-get installed poppler-utils but {tool} is not on PATH")


def test_mask_number_keeps_the_last_digits_and_the_length():
    assert mask_number("447700900123") == "••••••••0123"
    assert mask_number("+447700900123", mask="*") == "********0123"
    assert mask_number("4930123456789", keep=2) == "•••••••••••89"
    assert mask_number("999") == "•••"  # too short to show any digit without showing all
    assert mask_number("") == ""
    assert mask_number(None) == ""


def test_html_shows_the_hand_worked_invoice(con):
    html = render_invoice_html(*invoice_inputs(con, GB), timezone="Europe/London")
    assert html.startswith("<!DOCTYPE html>")
    for text in ("Tollhouse Demo Telecom Ltd", "INV-202610-ACC-0001", "October 2026", "1 Oct 2026 – 31 Oct 2026",
                 "1 Nov 2026", "1 Dec 2026", "LS1 0AA", "United Kingdom"):  # fmt: skip
        assert text in html
    # Lines and totals, money at exactly 2 decimals; the discount negative.
    for amount in ("1.00", "0.30", "0.07", "21.25", "-2.13", "20.49", "4.10", "GBP 24.59"):
        assert f">{amount}<" in html
    assert "12.5 min" in html and "17 days" in html and ">1.25<" in html and ">0.08<" in html
    # Tax breakdown: name and rate, the taxes charge types, base and amount.
    assert "VAT 20%" in html and "on usage, recurring" in html
    assert '<td class="num">20.49</td><td class="num">4.10</td>' in html
    # Calls: local times (BST before 25 Oct, GMT after), masked numbers, never a full number.
    assert "2026-10-03 14:05:09" in html and "2026-10-30 10:00:00" in html and "Europe/London" in html
    assert "••••••••0123" in html and "•••••••••6789" in html
    for number in FULL_NUMBERS:
        assert number not in html
    assert "12:30" in html and "1:00" in html  # 750 s billed; 60 s covered by a bundle
    assert "0.0650" in html
    # Text is escaped, and a closed invoice carries no draft mark.
    assert "Kestrel &amp; Finch &lt;Legal&gt; Ltd" in html and "<Legal>" not in html
    assert "DRAFT" not in html


def test_draft_is_marked_and_uses_the_accounts_zone(con):
    html = render_invoice_html(*invoice_inputs(con, DE), timezone="Europe/Berlin")
    assert 'class="watermark"' in html and "DRAFT – NOT A TAX INVOICE" in html
    assert "2026-10-05 11:15:00" in html  # 09:15 UTC in CEST
    assert "Bahnhofstraße 38" in html and "20013 Hamburg" in html and "EUR 1.79" in html
    assert "MwSt 19%" in html and "Do not pay" in html


def test_documents_are_byte_identical_on_every_render(con):
    inputs = invoice_inputs(con, GB)
    assert sha256(render_invoice_html(*inputs, "Europe/London")) == sha256(
        render_invoice_html(*inputs, "Europe/London")
    )
    first = render_invoice_pdf(*inputs, "Europe/London")
    assert first.startswith(b"%PDF-")
    assert sha256(first) == sha256(render_invoice_pdf(*inputs, "Europe/London"))
    # Dated by the issue date, not the clock: a re-run next year gives the same bytes.
    assert b"/CreationDate (D:20261101000000Z" in first


def test_pdf_renders_to_a_page_with_the_invoice_on_it(con, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for number, zone in ((GB, "Europe/London"), (DE, "Europe/Berlin")):
        pdf = tmp_path / f"{number}.pdf"
        pdf.write_bytes(render_invoice_pdf(*invoice_inputs(con, number), zone))
        prefix = ARTIFACTS / f"invoice-{number}"
        subprocess.run([poppler("pdftoppm"), "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(prefix)], check=True, capture_output=True, timeout=120)  # fmt: skip
        with Image.open(f"{prefix}.png") as page:
            assert page.size[0] > 400 and page.size[1] > 600  # A4 at 60 dpi is 496 x 702
            colours = page.convert("L").getextrema()
            assert colours[0] < 100 and colours[1] > 200, "the page is blank"
        text = subprocess.run([poppler("pdftotext"), "-layout", str(pdf), "-"], check=True, capture_output=True,
                              text=True, timeout=120).stdout  # fmt: skip
        assert "Tollhouse Demo Telecom Ltd" in text and number in text
        for call in CALLS:
            assert call[5] not in text
        if number == GB:
            assert "GBP 24.59" in text and "-2.13" in text and "********0123" in text and "14:05:09" in text
            assert "DRAFT" not in text
        else:
            assert "DRAFT" in text and "Bahnhofstraße" in text and "EUR 1.79" in text


def test_exports_carry_every_line_with_exact_amounts(con):
    lines = fetch_lines(con, PERIOD, statuses=("closed", "draft"))
    csv_text = export_lines_csv(lines)
    rows = csv_text.splitlines()
    assert rows[0].startswith("invoice_number,account_id,billing_period,status,line_no,")
    assert len(rows) == 1 + len(LINES)
    assert [(r.split(",")[0], r.split(",")[4]) for r in rows[1:]] == [(line[0], str(line[3])) for line in LINES]
    assert rows[5] == (
        "INV-202610-ACC-0001,ACC-00001,2026-10-01,closed,5,discount,recurring,Welcome offer: 10% off the trunk,"
        "PROMO-WELCOME10,,,,-2.13,GBP,,,"
    )
    assert ",0.30,GBP," in csv_text and ",4.10,GBP,VAT,0.200000," in csv_text and ",12.500000,minutes," in csv_text

    data = json.loads(export_lines_json(lines), parse_float=lambda s: pytest.fail(f"a float in the JSON: {s}"))
    assert [(r["invoice_number"], r["line_no"]) for r in data] == [(line[0], line[3]) for line in LINES]
    assert [r["amount"] for r in data] == [line[11] for line in LINES]
    assert data[5]["tax_rate"] == "0.200000" and data[0]["quantity"] == "12.500000" and data[4]["quantity"] is None
    for number, total in ((GB, Decimal("24.59")), (DE, Decimal("1.79"))):
        assert sum(Decimal(r["amount"]) for r in data if r["invoice_number"] == number) == total

    one = export_lines_csv(fetch_lines(con, PERIOD, invoice_number=GB))
    assert len(one.splitlines()) == 7 and DE not in one
    assert DE not in export_lines_json(fetch_lines(con, PERIOD))  # closed only by default


def test_gl_export_writes_any_rows_exactly(tmp_path):
    path = tmp_path / "gl.csv"
    rows = [{"account": "4000", "debit": Decimal("0.00"), "credit": Decimal("20.49"), "posted": date(2026, 11, 1)}]
    assert export_gl_csv(rows, path) is True
    assert path.read_bytes() == b"account,debit,credit,posted\r\n4000,0.00,20.49,2026-11-01\r\n"
    assert export_gl_csv(rows, path) is False


def test_render_period_writes_each_document_once(con, tmp_path):
    out = tmp_path / "invoices"
    paths = render_period(con, PERIOD, out)
    folder = out / "2026-10"
    assert paths == sorted(folder / name for name in (f"{GB}.html", f"{GB}.pdf", f"{GB}-calls.csv",
                                                      "invoice_lines.csv", "invoice_lines.json"))  # fmt: skip
    assert "2026-10-03 14:05:09" in (folder / f"{GB}.html").read_text()
    assert DE not in (folder / "invoice_lines.csv").read_text()

    paths = render_period(con, PERIOD, out, statuses=("closed", "draft"))
    assert len(paths) == 8 and (folder / f"{DE}.pdf").exists()
    assert not list(folder.glob(".*"))  # no temporary file left behind
    digests = {p: sha256(p.read_bytes()) for p in paths}
    for path in paths:
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert render_period(con, PERIOD, out, statuses=("closed", "draft")) == paths
    assert {p: sha256(p.read_bytes()) for p in paths} == digests
    assert all(p.stat().st_mtime == 1_000_000_000 for p in paths), "an unchanged file was rewritten"

    # A change to one invoice rewrites its documents and the exports, and nothing else.
    con.execute("update marts.fct_invoices set billing_email = 'ap@lumen.example' where invoice_number = ?", [DE])
    render_period(con, PERIOD, out, statuses=("closed", "draft"))
    rewritten = {p.name for p in paths if p.stat().st_mtime != 1_000_000_000}
    assert rewritten == {f"{DE}.html", f"{DE}.pdf"}  # its calls CSV does not show the e-mail: unchanged


def test_render_period_falls_back_to_utc_without_the_accounts(con, tmp_path):
    con.execute("drop table staging.stg_crm__accounts")
    render_period(con, PERIOD, tmp_path)
    html = (tmp_path / "2026-10" / f"{GB}.html").read_text()
    assert "2026-10-03 13:05:09" in html and "Times in UTC" in html


def test_many_calls_are_itemised_up_to_the_limit_and_all_listed_in_the_calls_csv(con):
    invoice, lines, calls = invoice_inputs(con, GB)
    many = [{**calls[i % 3], "call_id": f"c-{i:06d}", "b_number": f"4477009{i:05d}"} for i in range(20_000)]
    html = render_invoice_html(invoice, lines, many, "Europe/London")
    assert "20,000 calls" in html and "19,000 more calls" in html
    assert html.count("<tr>") < ITEMISED_ROWS + 50  # the first ITEMISED_ROWS calls, the lines and the totals
    pdf = render_invoice_pdf(invoice, lines, many, "Europe/London")
    assert 10 < pdf.count(b"/Type /Page\n") < 40
    listed = export_calls_csv(many, "Europe/London").splitlines()
    assert len(listed) == 20_001 and listed[-1].startswith("c-019999,") and ",********9999," in listed[-1]
    assert "4477009" not in "".join(listed)  # numbers masked but for their last digits
