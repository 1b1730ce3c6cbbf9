"""The dashboards read only the published snapshot: figures shown match the warehouse they came from, and a
run whose dbt tests fail publishes nothing (the app keeps the last good snapshot)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import data
from orchestration.runner import build_models
from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.integration
APP = str(REPO_ROOT / "dashboards" / "app.py")


def test_app_shows_nothing_published_yet(paths):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "Nothing is published yet" in at.info[0].value


def test_data_operations_page_shows_the_snapshot(published):
    snapshot = data.current_snapshot(published)
    assert data.ingestion_totals(snapshot) == {
        "files": 2, "lines": 3, "raw_rows": 2, "rejected_lines": 1, "files_quarantined": 0, "files_redelivered": 0,
    }  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Lines"] == "3" and metrics["Rejected lines"] == "1" and metrics["Files landed"] == "2"
    # no switch configuration was delivered: both records are rejected by mediation (unknown_switch)
    assert data.mediation_totals(snapshot) == {
        "records": 2, "calls": 0, "partials_merged": 0, "duplicates": 0, "rejected": 2, "suspended": 0,
        "unaccounted": 0,
    }  # fmt: skip
    assert metrics["Rejected records"] == "2" and metrics["Records unaccounted"] == "0"
    at.multiselect[0].select("freeswitch").run()
    assert not at.exception
    assert list(at.dataframe[0].value["source"]) == []  # the freeswitch day had no problems


def test_failed_dbt_test_publishes_nothing(published):
    before = data.current_snapshot(published).version
    with duckdb.connect(str(published.warehouse)) as con:  # a raw row lost after the load; the audit is intact
        con.execute("delete from raw.asterisk__cdr where line_no = 1")
    result = build_models(published, date(2026, 10, 1), date(2026, 10, 2))
    assert not result.success
    assert data.current_snapshot(published).version == before
