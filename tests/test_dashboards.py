"""The dashboards against a small operator run through the whole pipeline (load, close, assurance, fraud),
as the app sees it: every page rendered by Streamlit's AppTest and checked against figures read from the
warehouse itself; the case and alert workflows written through to the case store; B-numbers masked for
finance. Then the same app in Debian's Chromium driven by Playwright (screenshots in tests/artifacts/), and a
pipeline run while a person browses.

What happens before anything is published, when a dbt test fails, and the roles file's checks are in
test_publishing.py (a small synthetic warehouse, a separate file so the two run side by side)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from hypothesis import given, settings
from hypothesis import strategies as st_
from streamlit.testing.v1 import AppTest

from dashboards import data, users
from dashboards.queries import fraud, invoices
from orchestration.assurance import alert_queue, cases
from orchestration.pipeline.runs import assure, build_models, close_month, detect_fraud, landed_days, load_days
from orchestration.settings import REPO_ROOT, Paths
from tests.browser import APP, ARTIFACTS, CHROMIUM_FLAGS, browser_sign_in, chromium, serve_app, settle
from tests.worlds import data_folder, simulated
from tools.simulator import SimulationConfig

pytestmark = pytest.mark.integration
OCT = date(2026, 10, 1)
ANALYST = "ra-tester"  # the assurance user the case and alert edits must name as their actor
PASSWORD = "correct horse battery"
USERS = {"finance": "fin-tester", "assurance": ANALYST, "engineering": "eng-tester"}  # one user per role
CENT = Decimal("0.01")
PUBLISHED: dict[str, str | None] = {}  # the snapshot current after each of the operator's runs


# ---------------------------------------------------------------------------------------------------------------
# The operator


@pytest.fixture(scope="module")
def operator():
    """One month of a small operator: every landed day loaded and mediated, October closed (its documents
    rendered), the controls run and the cases filed, the fraud model trained and the alerts filed. Each run
    published the snapshot."""
    with data_folder("dashboards") as paths:
        for role, user in USERS.items():  # in the data folder's users file, as an administrator adds them
            users.add_user(user, role, PASSWORD)
        simulated(paths.data, SimulationConfig(seed=11, start=OCT, accounts=12, calls_per_day=150))
        days = landed_days(paths)
        for step, run in (
            ("load", lambda: load_days(paths, days[0], days[-1])),
            ("mediation", lambda: build_models(paths, days[0], days[-1])),
            ("close", lambda: close_month(paths, OCT, "dashboard-test", "month-end close")),
            ("assurance", lambda: assure(paths)),
            ("fraud", lambda: detect_fraud(paths, train=True)),
        ):
            assert run().success, step
            snapshot = data.current_snapshot(paths)
            PUBLISHED[step] = snapshot and snapshot.version
        st.cache_data.clear()
        yield paths


def warehouse(paths: Paths, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def cents(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, ROUND_HALF_UP)


def shown(amount: Decimal, currency: str = "") -> str:
    """An amount as the pages write it: to the cent, thousands separated."""
    return f"{cents(amount):,.2f} {currency}".strip()


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    by_label(at.text_input, "User name").input(name)
    by_label(at.text_input, "Password").input(password)
    by_label(at.button, "Sign in").click().run()
    return at


def app(monkeypatch, role: str, page: str | None = None) -> AppTest:
    """The app as a user of `role` sees it, signed in through the form."""
    at = sign_in(AppTest.from_file(APP, default_timeout=60).run(), USERS[role], PASSWORD)
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame_with(at: AppTest, column: str):
    """The first dataframe on the page that has `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def by_key(widgets, key: str):
    return next(w for w in widgets if w.key == key)


def by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


# ---------------------------------------------------------------------------------------------------------------
# Signing in (no operator: a users file and an empty data folder)


@pytest.fixture
def users_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TOLLHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TOLLHOUSE_USERS_FILE", str(tmp_path / "users.toml"))
    return tmp_path / "users.toml"


def test_passwords_are_kept_as_salted_scrypt_hashes(users_file):
    users.add_user("Alice", "finance", PASSWORD)
    stored = users_file.read_text()
    assert PASSWORD not in stored and 'role = "finance"' in stored and '[users."alice"]' in stored
    (hashed,) = re.findall(r'password = "(scrypt\$16384\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{64})"', stored)
    assert users.check_password(PASSWORD, hashed) and not users.check_password(PASSWORD + " ", hashed)
    assert users.hash_password(PASSWORD) != users.hash_password(PASSWORD)  # salted: never the same twice
    assert users.authenticate("alice", PASSWORD).role == "finance"
    assert users.authenticate("alice", "wrong password") is None and users.authenticate("bob", PASSWORD) is None
    assert oct(users_file.stat().st_mode & 0o777) == "0o600"


def test_the_users_command_adds_a_user_and_refuses_a_bad_role_or_password_by_name(users_file):
    def command(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dashboards.users", *args], input=stdin, text=True,
                              capture_output=True, cwd=REPO_ROOT, env=os.environ.copy(), timeout=60)  # fmt: skip

    added = command("add", "carol", "--role", "assurance", stdin=f"{PASSWORD}\n")
    assert added.returncode == 0, added.stderr
    assert users.authenticate("carol", PASSWORD).role == "assurance"
    wrong_role = command("add", "dave", "--role", "auditor", stdin=f"{PASSWORD}\n")
    assert wrong_role.returncode == 2 and "role 'auditor' is not one of" in wrong_role.stderr
    assert "Traceback" not in wrong_role.stderr
    short = command("add", "dave", "--role", "finance", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    bad_name = command("add", "Dave Smith", "--role", "finance", stdin=f"{PASSWORD}\n")
    assert bad_name.returncode == 2 and "user name 'dave smith'" in bad_name.stderr
    assert set(users.load_users()) == {"carol"}
    assert command("list").stdout == "carol\tassurance\tpassword\n"


def test_no_page_before_signing_in_a_wrong_password_is_refused_and_the_right_one_signs_in(users_file):
    users.add_user("alice", "engineering", PASSWORD)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert [t.value for t in at.title] == ["Sign in to tollhouse"] and not at.info  # no page, no snapshot message
    sign_in(at, "alice", "not her password")
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    assert "tollhouse_signed_in" not in at.session_state
    sign_in(at, "alice", PASSWORD)
    assert not at.error and "Nothing is published yet" in at.info[0].value  # the page ran
    assert any("Signed in as **alice**" in m.value for m in at.sidebar.markdown)
    by_label(at.sidebar.button, "Sign out").click().run()
    assert [t.value for t in at.title] == ["Sign in to tollhouse"]


def test_the_actor_is_the_signed_in_user_never_the_machines_login(users_file):
    users.add_user("alice", "assurance", PASSWORD)
    at = sign_in(AppTest.from_file(APP, default_timeout=30).run(), "alice", PASSWORD)
    assert at.session_state["tollhouse_signed_in"].name == "alice"
    from dashboards import roles

    assert "getpass" not in Path(roles.__file__).read_text()


def test_an_app_without_users_says_how_to_add_one(users_file):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "python -m dashboards.users add" in at.info[0].value and not at.text_input


# ---------------------------------------------------------------------------------------------------------------
# How tables read (no app: display() on hand-made frames)


def test_a_table_shows_words_separators_cents_zones_and_a_dash_for_what_is_missing():
    import pandas as pd

    from dashboards.app_state import display

    frame = pd.DataFrame(
        {
            "billing_period": [date(2026, 10, 1), None],
            "currency": ["EUR", "JPY"],
            "leakage_amount": [Decimal("1234567.50"), None],
            "calls": [1234567, 2],
            "answer_at": [datetime(2026, 9, 1, 14, 3, 59), None],
            "owner": [None, "alice"],
        }
    )
    shown, config = display(frame)
    assert {c: config[c]["label"] for c in frame.columns} == {
        "billing_period": "Billing month", "currency": "Currency", "leakage_amount": "Leakage amount",
        "calls": "Calls", "answer_at": "Answer at", "owner": "Owner",
    }  # fmt: skip
    assert list(shown["billing_period"]) == ["2026-10-01", "—"]
    assert list(shown["leakage_amount"]) == ["1,234,567.50", "—"]  # gaps: text, at the currencies' 2 places
    assert list(shown["answer_at"]) == ["2026-09-01 14:03 UTC", "—"]
    assert list(shown["owner"]) == ["—", "alice"]
    assert list(shown["calls"]) == [1234567, 2]  # no gaps: stays a number (it sorts), shown with separators
    assert config["calls"]["type_config"]["format"] == "localized"
    assert config["leakage_amount"]["help"].startswith("A difference the revenue-assurance controls found")


@given(
    amounts=st_.lists(
        st_.one_of(st_.none(), st_.decimals(min_value=-(10**9), max_value=10**9, places=2)), min_size=1, max_size=8
    ),
    column=st_.from_regex(r"[a-z]{1,8}(_[a-z]{1,8}){1,3}", fullmatch=True),
)
@settings(max_examples=60, deadline=None)
def test_no_cell_reads_none_or_nan_and_no_header_is_snake_case(amounts, column):
    import pandas as pd

    from dashboards.app_state import display
    from dashboards.glossary import label

    shown, config = display(pd.DataFrame({column: amounts, "currency": ["USD"] * len(amounts)}))
    assert "_" not in label(column) and "_" not in config[column]["label"]
    if None in amounts:
        for cell, amount in zip(shown[column], amounts, strict=True):
            assert cell == "—" if amount is None else re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d{2}", cell), cell
    else:
        assert list(shown[column]) == amounts and config[column]["type_config"]["format"] == "accounting"


# ---------------------------------------------------------------------------------------------------------------
# Publishing


def test_every_run_published_a_snapshot_with_what_it_built(operator):
    assert PUBLISHED["load"] is None  # loading alone publishes nothing: the marts are not built yet
    versions = [PUBLISHED[step] for step in ("mediation", "close", "assurance", "fraud")]
    assert None not in versions and len(set(versions)) == 4
    snapshot = data.current_snapshot(operator)
    served = ("rpt_usage_daily", "fct_invoices", "fct_invoice_calls", "fct_leakage_findings", "rpt_leakage_evidence",
              "rpt_stage_totals_daily", "fct_fraud_alerts", "fct_fraud_account_hours")  # fmt: skip
    for table in served:
        assert snapshot.has(table), table
        (rows,) = warehouse(operator, f"select count(*) from marts.{table}")[0]
        assert data.query(snapshot, "select count(*) as n from t", t=table)["n"][0] == rows
    assert snapshot.data_through.startswith("2026-1")
    kept = sorted((operator.serving / "snapshots").iterdir())
    assert len(kept) == 3 and kept[-1].name == snapshot.version  # the last three, for readers mid-switch


# ---------------------------------------------------------------------------------------------------------------
# Pages


def test_overview_shows_the_closed_months_revenue_billing_and_fraud(operator, monkeypatch):
    at = app(monkeypatch, "assurance")
    assert by_key(at.selectbox, "overview_month").value == OCT  # the latest closed month
    shown_metrics = metrics(at)
    ((billed,),) = warehouse(
        operator, "select sum(billed_revenue_reporting) from marts.rpt_leakage_kpis where billing_period = ?", [OCT]
    )
    assert shown_metrics["Billed"] == shown(billed, "EUR")
    ((alerts, exposure),) = warehouse(
        operator,
        "select count(*), sum(exposure_eur) from marts.fct_fraud_alerts where raised_at >= ? and raised_at < ?",
        [datetime(2026, 10, 1), datetime(2026, 11, 1)],
    )
    assert alerts > 0
    assert shown_metrics["Alerts raised"] == str(alerts) and shown_metrics["Exposure"] == shown(exposure, "EUR")
    # the revenue in the reporting currency: every October call at its day's rate, summed from the calls
    ((revenue,),) = warehouse(
        operator,
        """select sum(r.cost * case when r.currency = 'EUR' then 1 else fx.rate end)
           from marts.fct_rated_calls r left join intermediate.int_fx_rates_carried_forward fx
             on fx.base_currency = r.currency and fx.quote_currency = 'EUR' and fx.rate_day = r.call_date
           where r.call_date >= ? and r.call_date < ?""",
        [OCT, date(2026, 11, 1)],
    )
    usage = Decimal(shown_metrics["Usage revenue"].removesuffix(" EUR").replace(",", ""))
    assert abs(usage - revenue) <= CENT  # rounded per day and account


def test_revenue_by_currency_is_the_rated_calls_to_the_cent_and_a_customer_filter_narrows_it(operator, monkeypatch):
    at = app(monkeypatch, "finance", "revenue")
    by_key(at.radio, "revenue_currency").set_value("account").run()
    assert not at.exception
    by_currency = frame_with(at, "calls")  # the month table: currency per row in account currency
    expected = {
        currency: cents(revenue)
        for currency, revenue in warehouse(operator, "select currency, sum(cost) from marts.fct_rated_calls group by 1")
    }
    page_totals = by_currency.groupby("currency")["revenue"].sum().to_dict()
    assert {c: cents(v) for c, v in page_totals.items()} == expected
    ((account, name, calls),) = warehouse(
        operator,
        """select r.account_id, a.account_name, count(*) from marts.fct_rated_calls r
           join staging.stg_crm__accounts a using (account_id) group by all order by 3 desc, 1 limit 1""",
    )
    by_key(at.multiselect, "revenue_accounts").select(account).run()
    assert not at.exception
    assert frame_with(at, "calls")["calls"].sum() == calls
    customers = frame_with(at, "customer") if any("customer" in d.value.columns for d in at.dataframe) else None
    assert customers is None or set(customers["customer"]) == {name}


def test_an_invoice_opens_with_its_lines_and_calls_and_its_pdf_is_the_issued_document(operator, monkeypatch):
    ((number, account_name, total, currency, line_count, call_count),) = warehouse(
        operator,
        """select invoice_number, account_name, total, currency, line_count, call_count from marts.fct_invoices
           where status = 'closed' and call_count > 0 order by call_count desc limit 1""",
    )
    at = app(monkeypatch, "finance", "invoices")
    by_key(at.text_input, "invoice_search").input(account_name.split()[0]).run()
    listed = frame_with(at, "invoice_number")
    ((matching,),) = warehouse(
        operator, "select count(*) from marts.fct_invoices where account_name ilike ?", [f"%{account_name.split()[0]}%"]
    )
    assert len(listed) == matching and number in set(listed["invoice_number"])
    by_key(at.selectbox, "invoice_open").select(number).run()
    assert not at.exception
    assert metrics(at)["Total"] == shown(total, currency)
    assert len(frame_with(at, "line_no")) == line_count
    assert len(frame_with(at, "call_id")) == min(call_count, invoices.SHOWN_CALLS)
    pdf = invoices.invoice_pdf(data.current_snapshot(operator), number)
    assert pdf == (operator.invoices / "2026-10" / f"{number}.pdf").read_bytes()


def test_a_closed_invoice_downloads_its_issued_pdf_and_a_draft_or_an_unissued_one_is_rendered(tmp_path):
    """The page hands over the month-end file of a closed invoice (no rendering on the click); a draft, a
    closed invoice whose document is missing, and a number that is no file name fall back to rendering."""
    issued = tmp_path / "2026-10" / "INV-202610-ACC-00001.pdf"
    issued.parent.mkdir()
    issued.write_bytes(b"%PDF-issued")
    head = {"invoice_number": "INV-202610-ACC-00001", "billing_period": date(2026, 10, 1), "status": "closed"}
    assert invoices.issued_pdf(tmp_path, head) == issued
    assert invoices.issued_pdf(tmp_path, {**head, "status": "draft"}) is None
    assert invoices.issued_pdf(tmp_path, {**head, "invoice_number": "INV-202610-ACC-00002"}) is None
    assert invoices.issued_pdf(tmp_path, {**head, "billing_period": date(2026, 9, 1)}) is None
    assert invoices.issued_pdf(tmp_path, {**head, "invoice_number": "../2026-10/INV-202610-ACC-00001"}) is None


def test_finance_sees_b_numbers_masked_and_only_its_pages_assurance_sees_them_whole(operator, monkeypatch):
    ((number,),) = warehouse(
        operator, "select invoice_number from marts.fct_invoices where call_count > 0 order by 1 limit 1"
    )
    whole = {b for (b,) in warehouse(operator, "select b_number from marts.fct_invoice_calls where invoice_number = ?",
                                     [number])}  # fmt: skip
    for role, masked in (("finance", True), ("assurance", False)):
        at = app(monkeypatch, role, "invoices")
        by_key(at.selectbox, "invoice_open").select(number).run()
        shown_numbers = set(frame_with(at, "call_id")["b_number"])
        if masked:
            assert all(re.fullmatch(r"•+\d{4}", b) for b in shown_numbers), shown_numbers
            assert not shown_numbers & whole
            assert {b[-4:] for b in shown_numbers} <= {b[-4:] for b in whole}
        else:
            assert shown_numbers <= whole
    at = app(monkeypatch, "finance")
    for page in ("leakage", "cases", "fraud", "data_operations"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"views/{page}.py")


def test_leakage_drills_from_a_finding_to_its_evidence_calls(operator, monkeypatch):
    at = app(monkeypatch, "assurance", "leakage")
    ((findings,),) = warehouse(operator, "select count(*) from marts.fct_leakage_findings")
    assert metrics(at)["Findings"] == f"{findings:,}"
    recon = frame_with(at, "explained_by_findings")  # expected, billed, collected: every difference explained
    ((accounts_periods,),) = warehouse(operator, "select count(*) from marts.rpt_revenue_reconciliation")
    assert len(recon) == accounts_periods and (recon["unexplained"] == 0).all()
    ((finding_id, evidence),) = warehouse(
        operator,
        """select finding_id, evidence_call_ids from marts.fct_leakage_findings
           where evidence_calls between 1 and 50 order by leakage_amount desc, finding_id limit 1""",
    )
    by_key(at.selectbox, "leakage_finding").select(finding_id).run()
    assert not at.exception
    assert set(frame_with(at, "rated_charge")["call_id"]) == set(evidence)
    by_key(at.multiselect, "leakage_controls").select("RA-03").run()
    assert set(frame_with(at, "finding_id")["control_id"]) == {"RA-03"}


def test_a_case_is_worked_from_the_page_and_every_step_is_in_the_store(operator, monkeypatch):
    ((finding_id, amount, currency),) = warehouse(
        operator,
        """select finding_id, leakage_amount, currency from marts.fct_leakage_findings
           where finding_type = 'unbilled_usage' order by leakage_amount desc limit 1""",
    )
    case_id = cases.case_of_finding(operator.cases, finding_id)
    assert cases.get_case(operator.cases, case_id).case.status == "open"
    at = app(monkeypatch, "assurance", "leakage")

    def save(owner: str = "", status: str = "(keep)", recovered: str = "", note: str = "") -> AppTest:
        by_key(at.selectbox, "leakage_finding").select(finding_id).run()
        by_label(at.text_input, "Assign to").input(owner)
        by_key(at.selectbox, "case_status").select(status)
        by_label(at.text_input, "Recovered amount").input(recovered)
        by_label(at.text_area, "Note").input(note)
        by_label(at.button, "Save").click().run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    save(owner="alice", status="investigating", note="the CDRs are on no invoice")
    assert metrics(at)["Status"] == "investigating" and metrics(at)["Owner"] == "alice"
    case = cases.get_case(operator.cases, case_id)
    assert (case.case.status, case.case.owner) == ("investigating", "alice")
    moved = [e for e in case.events if e.action == "status_changed"][-1]
    assert (moved.actor, moved.to_status, moved.note) == (ANALYST, "investigating", "the CDRs are on no invoice")

    save(status="confirmed")
    save(status="recovery_pending")
    save(status="recovered")  # no amount yet: refused with the reason, nothing written
    assert "recovered amount above zero" in at.error[0].value
    assert cases.get_case(operator.cases, case_id).case.status == "recovery_pending"
    save(status="recovered", recovered=str(cents(amount)))
    case = cases.get_case(operator.cases, case_id).case
    assert (case.status, case.recovered_amount) == ("recovered", cents(amount))
    assert metrics(at)["Recovered"] == shown(amount, currency)
    history = frame_with(at, "action")
    assert list(history["action"][:4]) == ["status_changed"] * 4  # newest first: recovered ... investigating


def test_the_cases_page_counts_the_store_and_works_a_case_from_the_queue(operator, monkeypatch):
    import sqlite3

    def store(sql: str) -> list[tuple]:
        with sqlite3.connect(operator.cases) as con:
            return con.execute(sql).fetchall()

    at = app(monkeypatch, "assurance", "cases")
    ((working,),) = store("select count(*) from cases where status in "
                          "('open', 'investigating', 'confirmed', 'recovery_pending')")  # fmt: skip
    ((recovered,),) = store("select count(*) from cases where status = 'recovered'")
    assert metrics(at)["Cases being worked"] == f"{working:,}" and metrics(at)["Cases recovered"] == f"{recovered:,}"
    listed = frame_with(at, "case_id")  # the default filter: the statuses still being worked
    assert len(listed) == working and set(listed["status"]) <= {"open", "investigating", "confirmed",
                                                                  "recovery_pending"}  # fmt: skip
    amounts = [Decimal(a) for a in listed[listed["status"] == "open"]["leakage_amount"]]
    assert amounts == sorted(amounts, reverse=True)  # the largest leakage first within a status
    case_id = listed["case_id"][0]
    by_key(at.selectbox, "cases_open").select(case_id).run()
    by_label(at.text_input, "Assign to").input("bob")
    by_label(at.text_area, "Note").input("asked billing for the customer's contract")
    by_label(at.button, "Save").click().run()
    assert not at.exception and not at.error
    ((owner,),) = store(f"select owner from cases where case_id = '{case_id}'")
    ((note, actor),) = store(f"select note, actor from case_events where case_id = '{case_id}' and action = 'note'")
    assert (owner, note, actor) == ("bob", "asked billing for the customer's contract", ANALYST)
    finding_ids = {f for (f,) in store(f"select finding_id from case_findings where case_id = '{case_id}'")}
    assert set(frame_with(at, "evidence_calls")["finding_id"]) <= finding_ids


def test_the_fraud_queue_is_ordered_by_exposure_and_an_alert_is_confirmed_from_the_page(operator, monkeypatch):
    at = app(monkeypatch, "assurance", "fraud")
    ordered = [a for (a,) in warehouse(operator, "select alert_id from marts.fct_fraud_alerts "
                                                 "order by exposure_eur desc, alert_id")]  # fmt: skip
    assert list(frame_with(at, "alert_id")["alert_id"]) == ordered[: len(frame_with(at, "alert_id"))]
    assert metrics(at)["Open alerts"] == str(len(ordered))
    top = ordered[0]
    ((account, raised_at, reasons),) = warehouse(
        operator, "select account_id, raised_at, reasons from marts.fct_fraud_alerts where alert_id = ?", [top]
    )
    assert all(any(reason in m.value for m in at.markdown) for reason in reasons)  # the reasons, word for word
    hours = fraud.timeline(data.current_snapshot(operator), account, raised_at)
    ((in_window,),) = warehouse(
        operator,
        "select count(*) from marts.fct_fraud_account_hours where account_id = ? and hour_at >= ? and hour_at < ?",
        [account, raised_at - timedelta(days=3), raised_at + timedelta(days=1)],
    )
    assert len(hours) == in_window > 0
    assert len(at.get("vega_lite_chart")) >= 1  # the timeline is drawn

    by_label(at.text_input, "Note").input("calls to a premium range at night, customer confirms")
    by_label(at.button, "Confirm fraud").click().run()
    assert not at.exception
    (alert,) = alert_queue.fraud_alerts(operator.cases, alert_id=top)
    assert (alert.status, alert.decided_by) == ("confirmed", ANALYST)
    assert metrics(at)["Confirmed"] == "1" and metrics(at)["Open alerts"] == str(len(ordered) - 1)


MONEY_FIELDS = re.compile(r'"field":\s*"(Usage revenue|Margin|revenue|margin|amount|leakage|open|exposure_eur)"')
CURRENCY_TITLE = re.compile(r'"title":\s*"[^"]*\b(EUR|USD|GBP)\b')


@pytest.mark.parametrize("mode", ["reporting", "account"])
def test_no_chart_adds_currencies_on_one_axis_and_every_money_axis_names_its_currency(operator, monkeypatch, mode):
    """In the reporting currency a chart's amount axis says it was converted; in the accounts' currencies there is
    one chart per currency, each axis naming its own. Every page's charts, read from the app's chart specs."""
    import json

    for role, name in (("assurance", "overview"), ("finance", "revenue"), ("assurance", "leakage"),
                       ("assurance", "fraud")):  # fmt: skip
        at = app(monkeypatch, role, name)
        if name == "revenue":
            by_key(at.radio, "revenue_currency").set_value(mode).run()
        charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]  # hidden tabs' charts included
        assert charts, name
        for spec in charts:
            text = json.dumps(spec)
            if MONEY_FIELDS.search(text):
                assert CURRENCY_TITLE.search(text), (name, mode, text[:400])
        if mode == "reporting" and name != "fraud":  # amounts of several currencies: converted, and said so
            assert any("converted at" in json.dumps(spec) for spec in charts), name
        if name == "revenue" and mode == "account":
            codes = {c for (c,) in warehouse(operator, "select distinct currency from marts.rpt_usage_daily")}
            titles = " ".join(json.dumps(spec) for spec in charts)
            assert all(f"Usage revenue, {code}" in titles for code in codes), codes  # one chart per currency


def test_data_operations_shows_control_totals_per_stage_and_the_last_runs(operator, monkeypatch):
    at = app(monkeypatch, "engineering", "data_operations")
    ((lines, files),) = warehouse(  # data lines of the files loaded (not re-deliveries nor quarantined ones)
        operator, "select sum(lines - header_lines) filter (where status = 'loaded'), count(*) from raw.load_audit"
    )
    assert metrics(at)["Lines"] == f"{lines:,}" and metrics(at)["Files landed"] == f"{files:,}"
    stages = frame_with(at, "calls_billed")
    ((billed,),) = warehouse(operator, "select count(distinct call_id) from marts.fct_invoice_calls")
    ((rated,),) = warehouse(operator, "select count(*) from marts.fct_rated_calls")
    assert stages["calls_billed"].sum() == billed and stages["calls_rated"].sum() == rated
    runs = frame_with(at, "job")
    assert len(runs) >= 5 and set(runs["status"]) <= {"SUCCESS", "FAILURE"}
    suspense = frame_with(at, "age")
    ((held,),) = warehouse(
        operator, "select (select count(*) from marts.fct_suspense) + (select count(*) from marts.fct_rating_suspense)"
    )
    assert suspense["calls"].sum() == held


# ---------------------------------------------------------------------------------------------------------------
# In a real browser


PAGES = {"overview": "", "revenue": "revenue", "invoices": "invoices", "leakage": "leakage", "cases": "cases",
         "fraud": "fraud", "data_operations": "data_operations"}  # fmt: skip


@pytest.fixture
def app_url(operator):
    """The app served by `streamlit run`, as `make dashboard` starts it, on the operator's snapshot."""
    with serve_app(operator.data) as url:
        yield url


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        yield launched.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
        launched.close()


def errors_shown(page) -> list[str]:
    return [e.inner_text() for e in page.query_selector_all('[data-testid="stException"], .stAlert-error')]


def visit(page, url: str, name: str, query: str = "", user: str = ANALYST) -> None:
    """Open the page's address as a link does (a new session): sign in when asked, then wait for the page."""
    page.goto(f"{url}/{PAGES[name]}{query}")
    settle(page)
    if page.locator("h1").filter(has_text="Sign in to tollhouse").count():
        browser_sign_in(page, user, PASSWORD)
        page.wait_for_selector("text=Signed in as", timeout=60_000)
        settle(page)
    assert errors_shown(page) == [], name
    assert "Page not found" not in page.inner_text("body"), name


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox or multiselect labelled `label`, as a person types it."""
    widget = page.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(has_text=label)
    widget.locator("input").first.click()
    page.keyboard.type(option)
    page.locator('[role="option"]').filter(has_text=option).first.click()
    page.keyboard.press("Escape")
    settle(page)


def test_every_page_in_a_real_browser_with_a_filter_an_invoice_and_a_finding(operator, app_url, browser):
    page = browser
    for name in PAGES:
        visit(page, app_url, name)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    assert "Revenue" in page.inner_text('[data-testid="stSidebarNav"]')

    visit(page, app_url, "revenue")  # a filter: one customer
    ((name, calls),) = warehouse(
        operator, "select a.account_name, count(*) from marts.fct_rated_calls r join staging.stg_crm__accounts a "
        "using (account_id) group by 1 order by 1 limit 1",
    )  # fmt: skip
    choose(page, "Customers", name)
    assert errors_shown(page) == []
    assert name in page.locator('[data-testid="stMultiSelect"]').filter(has_text="Customers").inner_text()
    # the filter's rerun may start after settle() looked (a loaded machine): wait for its figure, don't race it
    from playwright.sync_api import expect

    expect(page.locator('[data-testid="stMainBlockContainer"]')).to_contain_text(f"{calls:,} calls", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "revenue_filtered.png"))

    ((number, total, currency),) = warehouse(
        operator, "select invoice_number, total, currency from marts.fct_invoices where status = 'closed' "
        "and call_count > 0 order by invoice_number limit 1",
    )  # fmt: skip
    visit(page, app_url, "invoices")
    page.get_by_placeholder("Invoice number, customer or account").fill(number)
    page.keyboard.press("Enter")
    settle(page)
    choose(page, "Open invoice", number)
    assert shown(total, currency) in page.inner_text('[data-testid="stMainBlockContainer"]')
    with page.expect_download() as download:
        page.get_by_role("button", name="Download PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf == (operator.invoices / "2026-10" / f"{number}.pdf").read_bytes()
    page.screenshot(path=str(ARTIFACTS / "invoice_opened.png"))
    assert errors_shown(page) == []

    ((finding_id, evidence),) = warehouse(
        operator, "select finding_id, evidence_calls from marts.fct_leakage_findings where evidence_calls > 0 "
        "order by finding_id limit 1",
    )  # fmt: skip
    visit(page, app_url, "leakage")
    choose(page, "Open finding", finding_id)
    # as with the filter above: the choice's rerun may start after settle() looked
    main = page.locator('[data-testid="stMainBlockContainer"]')
    expect(main).to_contain_text(f"Finding {finding_id}", timeout=60_000)
    expect(main).to_contain_text(f"Evidence calls ({evidence:,})", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "finding_opened.png"))
    assert errors_shown(page) == []
    for name in PAGES:
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 20_000, name


def test_browsing_while_a_pipeline_run_publishes_a_new_snapshot(operator, app_url, browser):
    """The controls run again (and publish) while a person goes from page to page: no page shows an error,
    and the last page shows the new snapshot."""
    before = data.current_snapshot(operator).version
    outcome = {}

    def pipeline() -> None:
        outcome["assure"] = assure(operator).success

    run = threading.Thread(target=pipeline)
    run.start()
    page, visits = browser, 0
    while run.is_alive() or visits < len(PAGES):
        name = list(PAGES)[visits % len(PAGES)]
        visit(page, app_url, name)
        visits += 1
    run.join()
    assert outcome == {"assure": True}
    after = data.current_snapshot(operator).version
    assert after != before
    visit(page, app_url, "overview")
    assert f"published {data.current_snapshot(operator).published_at.replace('T', ' ')}" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "after_concurrent_run.png"))
    assert visits >= len(PAGES)


# ---------------------------------------------------------------------------------------------------------------
# What a finance analyst reads, in a real browser


SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"  # referenced from docs/dashboards.md
# per page: what its glossary must define, and how it names the currency of its amounts
PAGE_WORDS = {
    "overview": (["Usage revenue", "Billed", "Margin"], ["EUR, converted at daily rates", "converted at month-end"]),
    "revenue": (["Usage revenue", "Billed", "Invoiced", "Collected"], ["Amounts in EUR, converted at daily rates"]),
    "invoices": (["Billed", "Invoiced"], ["Currency"]),
    "leakage": (["Expected revenue", "Billed", "Leakage"], ["Amounts in EUR, converted at month-end rates"]),
    "cases": (["Leakage", "Recovered"], ["Currency"]),
    "fraud": (["Exposure"], ["EUR"]),
    "data_operations": (["Usage revenue"], []),
}
RAW_HEADER = re.compile(r"[a-z0-9]+(_[a-z0-9]+)+")


def test_sign_in_is_refused_with_a_wrong_password_and_a_deep_link_opens_its_invoice(operator, app_url, browser):
    """Nothing but the sign-in form before signing in (no Deploy button, no pages); a wrong password is refused;
    an invoice's link opened directly shows that invoice once signed in."""
    ((number, account_name, total, currency),) = warehouse(
        operator, "select invoice_number, account_name, total, currency from marts.fct_invoices "
        "where status = 'closed' order by invoice_number desc limit 1",
    )  # fmt: skip
    page = browser
    page.goto(f"{app_url}/invoices?invoice={number}")
    settle(page)
    assert page.locator("h1").first.inner_text() == "Sign in to tollhouse"
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0 and number not in page.inner_text("body")
    browser_sign_in(page, ANALYST, "not the password")
    page.wait_for_selector("text=Wrong user name or password.", timeout=60_000)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    page.screenshot(path=str(SCREENSHOTS / "sign_in.png"))
    browser_sign_in(page, ANALYST, PASSWORD)
    page.wait_for_selector("text=Signed in as", timeout=60_000)
    settle(page)
    main = page.locator('[data-testid="stMainBlockContainer"]')
    from playwright.sync_api import expect

    expect(main.locator("h3").filter(has_text=f"{number}: {account_name}")).to_have_count(1, timeout=60_000)
    expect(main).to_contain_text(shown(total, currency), timeout=60_000)
    assert f"invoice={number}" in page.url
    page.set_viewport_size({"width": 900, "height": 1400})  # narrow: five metrics in a row
    page.wait_for_timeout(500)
    cut = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMetricValue"] *')]
                   .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""
    )
    assert cut == [], cut  # totals wrap, never "86…"
    assert ANALYST in page.inner_text('[data-testid="stSidebar"]')
    for hidden in ('[data-testid="stAppDeployButton"]', '[data-testid="stMainMenu"] >> text=Clear cache'):
        assert page.locator(hidden).count() == 0, hidden
    assert page.get_by_role("button", name="Deploy").count() == 0


def test_every_page_defines_its_terms_names_its_currency_and_shows_no_none_or_raw_header(operator, app_url, browser):
    """Each page: its glossary expander defines its terms (one wording, from dashboards/glossary.py), its
    amounts say their currency, no cell or text reads None, and no column header is a snake_case name.
    Screenshots of every page go to docs/screenshots/."""
    from dashboards.glossary import TERMS

    page = browser
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, (terms, currency_words) in PAGE_WORDS.items():
        visit(page, app_url, name)
        main = page.locator('[data-testid="stMainBlockContainer"]')
        page.get_by_text("Glossary: what these figures mean").click()
        page.wait_for_timeout(300)
        text = main.inner_text()
        flat = " ".join(text.split())
        for term in terms:
            assert f"{term}: {TERMS[term]}" in flat, (name, term)
        headers = [h.strip() for h in page.locator('[role="columnheader"]').all_inner_texts()]
        for words in currency_words:  # in the text, or a column header (tables are drawn on a canvas)
            assert words in flat or words in headers, (name, words)
        assert not re.search(r"\bNone\b", text), name
        headers = [h.strip() for h in page.locator('[role="columnheader"]').all_inner_texts()]
        assert not [h for h in headers if RAW_HEADER.fullmatch(h)], (name, headers)
        page.get_by_text("Glossary: what these figures mean").click()  # folded again for the screenshot
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_behind_a_proxy_the_trusted_header_signs_in_and_an_unknown_name_is_refused(operator, browser):
    """TOLLHOUSE_AUTH_HEADER: the proxy's header names the user, the users file gives the role; no form."""
    users.add_user("proxied-fin", "finance", None)  # signs in only through the proxy's header
    with serve_app(operator.data, TOLLHOUSE_AUTH_HEADER="X-Forwarded-User") as url:
        page = browser
        page.set_extra_http_headers({"X-Forwarded-User": "proxied-fin"})
        page.goto(f"{url}/revenue")
        settle(page)
        assert page.locator("h1").first.inner_text() == "Revenue"
        sidebar = page.inner_text('[data-testid="stSidebar"]')
        assert "Signed in as proxied-fin" in sidebar and "Sign out" not in sidebar and "Leakage" not in sidebar
        page.set_extra_http_headers({"X-Forwarded-User": "mallory"})
        page.goto(f"{url}/revenue")
        page.wait_for_selector("text=mallory is not a dashboards user", timeout=60_000)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
