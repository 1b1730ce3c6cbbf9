"""Publishing and roles on a small synthetic warehouse: the app before anything is published, a published
snapshot's figures, a run whose dbt test fails publishing nothing, and the roles file's checks. The pages on a
whole operator's warehouse are in test_dashboards.py."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import data, users
from dashboards.queries import operations
from dashboards.roles import RoleError, load_roles, role_named
from orchestration.pipeline.runs import build_models
from orchestration.settings import REPO_ROOT
from tests.worlds import data_folder

pytestmark = pytest.mark.integration


@pytest.fixture
def paths():
    """The test's data folder on tmpfs: Dagster's SQLite event log syncs on every event."""
    with data_folder("publishing") as folder:
        yield folder


APP = str(REPO_ROOT / "dashboards" / "app.py")
PASSWORD = "correct horse battery"


def signed_in(role: str) -> AppTest:
    """The app signed in as a user of `role` (added to the data folder's users file), through the form."""
    users.add_user(f"{role}-tester", role, PASSWORD)
    at = AppTest.from_file(APP, default_timeout=30).run()
    next(t for t in at.text_input if t.label == "User name").input(f"{role}-tester")
    next(t for t in at.text_input if t.label == "Password").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    return at


# ---------------------------------------------------------------------------------------------------------------
# Before the first publish, and a failed check


def test_app_shows_nothing_published_yet(paths):
    at = signed_in("engineering")
    assert not at.exception
    assert "Nothing is published yet" in at.info[0].value


def test_a_published_snapshot_shows_its_figures_and_a_failed_dbt_test_publishes_nothing(published, monkeypatch):
    snapshot = data.current_snapshot(published)
    assert operations.ingestion_totals(snapshot) == {
        "files": 2, "lines": 3, "raw_rows": 2, "rejected_lines": 1, "files_quarantined": 0, "files_redelivered": 0,
    }  # fmt: skip
    at = signed_in("engineering").switch_page("views/data_operations.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Lines"] == "3" and metrics["Rejected lines"] == "1" and metrics["Files landed"] == "2"
    # no switch configuration was delivered: both records are rejected by mediation (unknown_switch)
    assert metrics["Rejected records"] == "2" and metrics["Records unaccounted"] == "0"

    before = snapshot.version
    with duckdb.connect(str(published.warehouse)) as con:  # a raw row lost after the load; the audit is intact
        con.execute("delete from raw.asterisk__cdr where line_no = 1")
    result = build_models(published, date(2026, 10, 1), date(2026, 10, 2))
    assert not result.success
    assert data.current_snapshot(published).version == before


# ---------------------------------------------------------------------------------------------------------------
# Roles


def test_roles_come_from_the_configuration_and_a_wrong_one_is_refused(tmp_path, monkeypatch):
    roles, default = load_roles()
    assert set(roles) == {"finance", "assurance", "engineering", "pricing"} and default in roles
    assert set(roles["pricing"].pages) == {"overview", "revenue", "tariffs"}  # the one role that manages decks
    assert not roles["finance"].see_numbers and roles["assurance"].see_numbers
    assert set(roles["finance"].pages) == {"overview", "revenue", "invoices"}
    with pytest.raises(RoleError, match="auditor"):
        role_named("auditor")
    broken = tmp_path / "roles.toml"
    broken.write_text('default_role = "x"\n[roles.x]\npages = ["overview", "billing"]\nsee_numbers = false\n')
    with pytest.raises(RoleError, match="billing"):
        load_roles(broken)


@pytest.mark.parametrize("number", ["442071234567", "+4915112345678", "1234", "12", "", None, " 0044 "])
def test_the_pages_mask_numbers_as_the_invoices_do(number):
    """masked() in SQL (pages and CSV downloads) and mask_number (documents) are one rule written twice."""
    from orchestration.billing.invoices.formatting import mask_number

    with duckdb.connect() as con:
        con.execute(data.MASKED_MACRO)
        masked, whole = con.execute("select masked($n, false), masked($n, true)", {"n": number}).fetchone()
    assert masked == (None if number is None else mask_number(number))
    assert whole == number
