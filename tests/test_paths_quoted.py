"""A data folder whose name holds a single quote, a double quote and a space works end to end: paths are bound
as SQL parameters, or quoted by warehouse.sql_literal where DuckDB takes no parameter, never pasted into SQL."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.settings import REPO_ROOT, Paths
from orchestration.warehouse import connect, sql_identifier, sql_literal

pytestmark = pytest.mark.integration

ODD_NAME = 'o\'brien "data" dir'
D1, D2 = date(2026, 10, 1), date(2026, 10, 2)


def _asterisk(uid: str) -> str:
    """An 18-column Asterisk cdr_csv line (a 5-second answered call)."""
    return (
        f'"ACC1","02071234567","00493012345678","from-trunk","""Ann"" <02071234567>","SIP/tr1-0000001a",'
        f'"SIP/rt1-0000001b","Dial","SIP/rt1/00493012345678","2026-10-01 12:00:00","2026-10-01 12:00:03",'
        f'"2026-10-01 12:00:08",8,5,"ANSWERED","DOCUMENTATION","{uid}",""'
    )


@pytest.fixture(scope="module")
def odd_paths(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("paths") / ODD_NAME
    data.mkdir()
    mp.setenv("TOLLHOUSE_DATA_DIR", str(data))
    mp.setenv("DAGSTER_HOME", str(data / "dagster"))
    yield Paths(data)
    mp.undo()


# ---------------------------------------------------------------------------------------------------------------
# The one quoting helper


_MEMORY = duckdb.connect()  # one in-memory connection for every example: connecting is the slow part


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_a_quoted_literal_reads_back_as_the_same_text(text):
    assert _MEMORY.execute(f"select {sql_literal(text)}").fetchone() == (text,)
    assert _MEMORY.execute(f"select 1 as {sql_identifier(text or 'x')}").description[0][0] == (text or "x")


def test_an_odd_folder_name_is_quoted_where_duckdb_binds_no_parameter(tmp_path):
    folder = tmp_path / ODD_NAME
    folder.mkdir()
    with duckdb.connect() as con:
        con.execute(f"copy (select 42 as answer) to {sql_literal(folder / 'a.parquet')} (format parquet)")
        con.execute(f"create view v as select * from read_parquet({sql_literal(folder / 'a.parquet')})")
        assert con.execute("select answer from v").fetchall() == [(42,)]
    with connect(folder / "warehouse" / "x.duckdb") as con:  # the temp_directory setting
        (temp,) = con.execute("select current_setting('temp_directory')").fetchone()
    assert temp == str(folder / "warehouse" / "tmp")


# ---------------------------------------------------------------------------------------------------------------
# The real pipeline in that folder: land, load, build, publish, read as a dashboard


def test_land_load_build_publish_and_read_in_a_folder_named_with_quotes(odd_paths):
    import streamlit

    from dashboards import data
    from dashboards.queries import operations
    from orchestration.pipeline.runs import build_models, load_days

    folder = odd_paths.landing / "asterisk" / D1.isoformat()
    folder.mkdir(parents=True)
    (folder / "a_20261001T01Z.csv").write_text(f"{_asterisk('1')}\n{_asterisk('2')}\nbad\n")
    (odd_paths.landing / "freeswitch" / D2.isoformat()).mkdir(parents=True)
    (odd_paths.landing / "freeswitch" / D2.isoformat() / "f_20261002T01Z.csv").write_bytes(b"")

    assert load_days(odd_paths, D1, D2).success
    with duckdb.connect(str(odd_paths.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (2,)
        assert con.execute("select line_no, reason from raw.rejects").fetchall() == [(3, "unparseable_row")]
    assert build_models(odd_paths, D1, D2).success
    streamlit.cache_data.clear()
    snapshot = data.current_snapshot(odd_paths)
    assert snapshot is not None and ODD_NAME in str(snapshot.folder)
    assert operations.ingestion_totals(snapshot) == {
        "files": 2, "lines": 3, "raw_rows": 2, "rejected_lines": 1, "files_quarantined": 0, "files_redelivered": 0,
    }  # fmt: skip
    # no switch configuration was delivered: both records are rejected by mediation (unknown_switch)
    assert operations.mediation_totals(snapshot)["rejected"] == 2


@pytest.fixture
def odd_folder(tmp_path) -> Path:
    folder = tmp_path / ODD_NAME
    folder.mkdir()
    return folder


def test_the_billing_systems_export_is_written_into_a_folder_named_with_quotes(odd_folder):
    from tools.simulator.billing_system import _write_csv

    with duckdb.connect() as con:
        con.execute(
            "create table invoices as select 3 as period_no, 'INV-202610-A1' as invoice_number, 'A1' as account_id, "
            "date '2026-10-01' as billing_period, 'EUR' as currency, 10.00::decimal(18, 2) as net_amount, "
            "2.00::decimal(18, 2) as tax_amount, 12.00::decimal(18, 2) as total_amount"
        )
        _write_csv(con, "invoices", 3, odd_folder / "invoices.csv")
    assert (odd_folder / "invoices.csv").read_text() == (
        "invoice_number,account_id,billing_period,currency,issue_date,net_amount,tax_amount,total_amount\n"
        "INV-202610-A1,A1,2026-10-01,EUR,2026-11-01,10.00,2.00,12.00\n"
    )


def test_the_ingestion_scorecard_reads_a_ground_truth_folder_named_with_quotes(odd_folder):
    from orchestration.warehouse import ensure_raw_schema
    from tools.simulator.scoring import ingestion_scorecard

    (odd_folder / "injections.csv").write_text(
        "kind,expected_effect,file,line_no\nblank_line,reject:blank_line,asterisk/2026-10-01/a.csv,2\n"
    )
    with duckdb.connect() as con:
        con.execute("copy (select 1 as call_id) to $p (format parquet)", {"p": str(odd_folder / "calls.parquet")})
        ensure_raw_schema(con)
        con.execute(
            "insert into raw.load_audit (file_id, source, delivery_date, path, size_bytes, sha256, compression, "
            "rows_loaded, rows_rejected, status, loaded_at) values ('f1', 'asterisk', date '2026-10-01', "
            "'asterisk/2026-10-01/a.csv', 10, 'x', 'none', 1, 1, 'loaded', now())"
        )
        con.execute("insert into raw.rejects values ('f1', 'asterisk', 2, 'blank_line', 'empty line', '')")
        assert ingestion_scorecard(con, odd_folder) == [("blank_line", "reject:blank_line", 1, 1)]


def test_fraud_evaluation_reads_a_ground_truth_folder_named_with_quotes(odd_folder):
    """One IRSF incident from 10:00; its call ends at 10:05 and triggers the rules detector's alert: found
    5 minutes after it started, nothing lost before the alert."""
    from models.fraud.evaluation import evaluate

    (odd_folder / "fraud_incidents.csv").write_text(
        "incident_id,kind,account_ids,start_at,end_at,calls\nI1,irsf,A1,2026-10-01 10:00:00,2026-10-01 10:30:00,1\n"
    )
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'I1' as fraud_incident_id, 'asterisk' as source, 'k1' as record_key) to $p (format parquet)",
            {"p": str(odd_folder / "calls.parquet")},
        )
        con.execute("create schema marts; create schema intermediate")
        con.execute("create table marts.fct_calls as select 'c1' as call_id, 'asterisk' as source, "
                    "'k1' as record_key, 'A1' as account_id")  # fmt: skip
        con.execute("create table intermediate.int_outbound_calls_costed as select 'c1' as call_id, "
                    "timestamp '2026-10-01 10:05:00' as end_at, 3.00::decimal(18, 2) as exposure_eur")  # fmt: skip
        con.execute(
            "create table intermediate.int_fraud_alerts_triggered as select 'rules' as detector, 'AL1' as alert_id, "
            "'A1' as account_id, timestamp '2026-10-01 10:06:00' as raised_at, date '2026-10-01' as raised_on, "
            "true as within_budget, 'c1' as trigger_call_id, null::double as peak_model_score, "
            "3.00::decimal(18, 2) as exposure_at_alert_eur"
        )
        results = {r.detector: r for r in evaluate(con, odd_folder)}
    rules, model = results["rules"], results["model"]
    assert (rules.incidents, rules.detected, rules.true_alerts, rules.median_delay_min) == (1, 1, 1, 5.0)
    assert rules.by_kind.lost_before_alert_eur.tolist() == [0.0]
    assert (model.incidents, model.detected) == (1, 0)


# ---------------------------------------------------------------------------------------------------------------
# No path is formatted into SQL anymore

# A quote opening right before a Python format field or a string concatenation, after a path-taking SQL word:
# `read_csv('{`, `to '{`, `from '{`, `= '{` in a SET, `from "{` (DuckDB reads a quoted name as a file too),
# `read_parquet('" + str(...)`. sql_literal and bound parameters leave no such text.
_PASTED_PATH = re.compile(r"""(read_\w+\(\s*|\b(to|from|attach|directory\s*=)\s+)('\{|\\?"\{|'"\s*\+)""", re.IGNORECASE)


def test_no_python_file_formats_a_path_into_sql():
    found = []
    for folder in ("orchestration", "dashboards", "models", "tools"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if _PASTED_PATH.search(line):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_dbt_writes_no_path_into_sql():
    """The profile's path is handed to DuckDB's connect, not to SQL; no model or macro reads a file."""
    skip = {"target", "dbt_packages", "logs"}
    files = [
        p for p in (REPO_ROOT / "dbt_project").rglob("*") if p.suffix in {".sql", ".yml"} and not skip & set(p.parts)
    ]
    readers = re.compile(r"read_\w+\(|external_location|\bcopy\b.*\bto\b|\battach\b", re.IGNORECASE)
    hits = [f"{p.relative_to(REPO_ROOT)}" for p in files if readers.search(p.read_text())]
    assert hits == []
