"""The Dagster code location: definitions load, a day materializes in a real run with its checks, dbt builds
through dagster-dbt, and the sensor asks for runs only when landing folders change."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.ingestion.layouts import SOURCES
from orchestration.pipeline.instance import ensure_dagster_home
from orchestration.pipeline.partitions import billing_months, delivery_days
from orchestration.pipeline.resources import WarehouseResource
from orchestration.pipeline.runs import build_models, failed_checks, load_days
from orchestration.pipeline.sensors import landing_sensor
from tests.conftest import land
from tests.test_ingest import ast
from tests.worlds import data_folder

pytestmark = pytest.mark.integration


@pytest.fixture
def paths():
    """The test's data folder on tmpfs: Dagster's SQLite event log syncs on every event."""
    with data_folder("dagster") as folder:
        yield folder


DAY = date(2026, 10, 1)


def test_definitions_load_with_every_asset_check_schedule_and_sensor():
    from orchestration.pipeline.definitions import defs

    graph = defs.get_repository_def().asset_graph
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {f"raw/{s}" for s in SOURCES} <= keys
    assert "marts/rpt_ingestion_daily" in keys
    # mediation is partitioned by delivery day like ingestion, and a range of days is one dbt run
    for key in (["intermediate", "int_calls_identified"], ["marts", "fct_calls"], ["raw", "asterisk"]):
        node = graph.get(dg.AssetKey(key))
        assert node.partitions_def == delivery_days
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
    assert graph.get(dg.AssetKey(["staging", "stg_asterisk__cdrs"])).partitions_def is None
    checks = {c.to_user_string() for c in graph.asset_check_keys}
    assert {f"raw/{s}:no_quarantined_files" for s in SOURCES} <= checks
    assert "marts/rpt_ingestion_daily:expect_zero_rpt_ingestion_daily_lines_unaccounted" in checks
    # billing is partitioned by month: the dbt billing models, the close and the documents
    for key in (["intermediate", "int_invoice_lines_drafted"], ["marts", "fct_invoices"], ["billing", "period_close"],
                ["billing", "invoice_documents"]):  # fmt: skip
        node = graph.get(dg.AssetKey(key))
        assert node.partitions_def == billing_months
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
    assert "marts/fct_invoices:unique_fct_invoices_invoice_number" in checks
    # revenue assurance: unpartitioned (one run compares every exported period), then the cases it files
    for key in (["marts", "fct_leakage_findings"], ["assurance", "cases"]):
        assert graph.get(dg.AssetKey(key)).partitions_def is None
    assert "marts/rpt_revenue_reconciliation:expect_no_rows_where_rpt_revenue_reconciliation_unexplained_0" in checks
    assert dg.AssetKey(["marts", "fct_leakage_findings"]) in graph.get(dg.AssetKey(["assurance", "cases"])).parent_keys
    # fraud: dbt features -> the model's scores (a Python asset) -> the dbt alerts -> filed in the case store
    parents = graph.get(dg.AssetKey(["intermediate", "int_fraud_alerts_triggered"])).parent_keys
    assert {dg.AssetKey(["fraud", "scores"]), dg.AssetKey(["marts", "fct_fraud_features"])} <= parents
    assert dg.AssetKey(["marts", "fct_fraud_features"]) in graph.get(dg.AssetKey(["fraud", "scores"])).parent_keys
    assert dg.AssetKey(["marts", "fct_fraud_alerts"]) in graph.get(dg.AssetKey(["fraud", "alerts"])).parent_keys
    assert [s.name for s in defs.schedules] == [
        "daily_load_schedule",
        "monthly_close_schedule",
        "assurance_schedule",
        "fraud_training_schedule",
    ]
    assert [s.name for s in defs.sensors] == ["landing_sensor", "fraud_after_load", "run_recovery_sensor"]


def test_the_monthly_close_schedule_closes_the_month_before():
    from orchestration.pipeline.schedules import monthly_close_schedule

    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 5, 6, 0, tzinfo=UTC))
    request = monthly_close_schedule(context)
    assert request.partition_key == "2026-10-01" and request.run_key == "monthly_close:2026-10"


def test_dagster_cli_validates_the_code_location(paths):
    ensure_dagster_home(paths)  # a fresh clone has no instance folder yet
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "orchestration.pipeline.definitions"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_day_materializes_in_a_real_run_and_checks_fail_loudly_on_quarantine(paths):
    land(paths, "asterisk", DAY.isoformat(), "ast_20261001T01Z.csv", f"{ast(uid='1')}\nbroken,line\n".encode())
    land(paths, "asterisk", DAY.isoformat(), "ast_20261001T02Z.csv.gz", gzip.compress(b"x" * 999, mtime=0)[:25])
    land(paths, "freeswitch", DAY.isoformat(), "fs_20261001T01Z.csv", b"")

    result = load_days(paths, DAY, DAY)

    assert result.success
    events = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    materialized = {m.asset_key.to_user_string(): m.partition for m in events}
    assert materialized["raw/asterisk"] == DAY.isoformat()
    assert set(materialized) == {f"raw/{s}" for s in SOURCES}
    assert failed_checks(result) == ["raw/asterisk:no_quarantined_files"]
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (1,)
        assert con.execute("select reason from raw.rejects").fetchall() == [("wrong_column_count",)]

    built = build_models(paths, DAY, DAY)
    assert built.success and failed_checks(built) == []
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute(
            "select files, files_quarantined, lines, raw_rows, rejected_lines, lines_unaccounted "
            "from marts.rpt_ingestion_daily where source = 'asterisk'"
        ).fetchall() == [(2, 1, 2, 1, 1, 0)]


def test_the_daily_job_loads_mediates_and_publishes_one_day(paths):
    """The run the schedule starts (and the sensor asks for): one delivery day's partition of raw,
    mediation and control marts, then the snapshot."""
    from orchestration.pipeline.assets.dbt import build_dbt_assets
    from orchestration.pipeline.assets.ingestion import raw_assets
    from orchestration.pipeline.assets.serving import serving_snapshot
    from orchestration.pipeline.instance import get_instance
    from orchestration.pipeline.resources import build_resources
    from orchestration.pipeline.schedules import daily_load_job

    # deployed and running: the first day was loaded and mediated, seeds and staging views built
    land(paths, "asterisk", DAY.isoformat(), "ast_20261001T01Z.csv", f"{ast(uid='1')}\n".encode())
    assert load_days(paths, DAY, DAY).success and build_models(paths, DAY, DAY).success
    defs = dg.Definitions(
        assets=[*raw_assets, *build_dbt_assets(), serving_snapshot],
        jobs=[daily_load_job],
        resources=build_resources(paths),
    )
    next_day = "2026-10-02"
    land(paths, "asterisk", next_day, "ast_20261002T01Z.csv", f"{ast(uid='2')}\n".encode())

    result = defs.resolve_job_def("daily_load").execute_in_process(
        partition_key=next_day, instance=get_instance(paths), raise_on_error=False
    )

    assert result.success, failed_checks(result)
    events = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    partitions = {m.asset_key.to_user_string(): m.partition for m in events}
    assert partitions["raw/asterisk"] == partitions["intermediate/int_calls_identified"] == next_day
    assert partitions["marts/rpt_mediation_conservation"] == next_day
    assert "serving/snapshot" in partitions
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute(
            "select delivery_date::varchar, records_in, records_unaccounted from marts.rpt_mediation_conservation "
            "order by 1"
        ).fetchall() == [("2026-10-01", 1, 0), ("2026-10-02", 1, 0)]


def test_a_range_of_days_is_one_run(paths):
    for day in ("2026-10-01", "2026-10-02", "2026-10-03"):
        land(paths, "asterisk", day, f"ast_{day}.csv", f"{ast(uid=day)}\n".encode())
    result = load_days(paths, date(2026, 10, 1), date(2026, 10, 3), ["asterisk"])
    assert result.success
    partitions = sorted(
        e.event_specific_data.materialization.partition for e in result.get_asset_materialization_events()
    )
    assert partitions == ["2026-10-01", "2026-10-02", "2026-10-03"]
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.asterisk__cdr").fetchone() == (3,)


def raw_loaded(request: dg.RunRequest) -> list[str]:
    return sorted(k.to_user_string() for k in request.asset_selection if k.path[0] == "raw")


def test_sensor_requests_runs_only_for_new_or_changed_landing_folders(paths):
    warehouse = WarehouseResource(data_dir=str(paths.data))
    land(paths, "asterisk", "2026-10-01", "a.csv", b"x\n")
    land(paths, "crm", "2026-10-01", "accounts.csv", b"x\n")
    land(paths, "asterisk", "2026-10-02", "b.csv", b"x\n")

    with dg.build_sensor_context(resources={"warehouse": warehouse}) as context:
        first = landing_sensor(context)
    assert [(r.partition_key, raw_loaded(r)) for r in first.run_requests] == [
        ("2026-10-01", ["raw/asterisk", "raw/crm"]),
        ("2026-10-02", ["raw/asterisk"]),
    ]
    # each run also mediates its day and publishes the snapshot
    for request in first.run_requests:
        assert {"intermediate/int_calls_identified", "marts/fct_calls", "serving/snapshot"} <= {
            k.to_user_string() for k in request.asset_selection
        }

    with dg.build_sensor_context(resources={"warehouse": warehouse}, cursor=first.cursor) as context:
        assert isinstance(landing_sensor(context), dg.SkipReason)

    land(paths, "asterisk", "2026-10-02", "c.csv", b"x\n")
    with dg.build_sensor_context(resources={"warehouse": warehouse}, cursor=first.cursor) as context:
        again = landing_sensor(context)
    assert [(r.partition_key, raw_loaded(r)) for r in again.run_requests] == [("2026-10-02", ["raw/asterisk"])]


def test_schedule_loads_yesterdays_deliveries():
    from datetime import UTC, datetime

    from orchestration.pipeline.schedules import daily_load_schedule

    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 10, 15, 2, 30, tzinfo=UTC)) as context:
        request = daily_load_schedule(context)
    assert request.partition_key == "2026-10-14"
    assert daily_load_schedule.cron_schedule == "30 2 * * *"


def test_sensor_skips_folders_that_are_not_delivery_day_partitions(paths):
    warehouse = WarehouseResource(data_dir=str(paths.data))
    land(paths, "asterisk", "incoming", "a.csv", b"x\n")  # not a date
    land(paths, "asterisk", "2019-06-01", "a.csv", b"x\n")  # before the partitions start
    land(paths, "asterisk", "2099-01-01", "a.csv", b"x\n")  # after the last partition
    land(paths, "asterisk", "2026-10-01", "a.csv", b"x\n")
    with dg.build_sensor_context(resources={"warehouse": warehouse}) as context:
        result = landing_sensor(context)
    assert [r.partition_key for r in result.run_requests] == ["2026-10-01"]
    from orchestration.pipeline.runs import landed_days

    assert landed_days(paths) == [date(2019, 6, 1), date(2026, 10, 1), date(2099, 1, 1)]


def test_a_redelivery_whose_original_is_gone_breaks_conservation(paths):
    body = f"{ast(uid='1')}\n".encode()
    original = land(paths, "asterisk", "2026-10-01", "a_20261001T01Z.csv", body)
    land(paths, "asterisk", "2026-10-03", "a_20261001T01Z.csv", body)  # the same bytes re-sent
    assert failed_checks(load_days(paths, date(2026, 10, 1), date(2026, 10, 3), ["asterisk"])) == []
    original.unlink()  # landing files are immutable; someone deleted one anyway, then day 1 is re-loaded
    result = load_days(paths, date(2026, 10, 1), date(2026, 10, 1), ["asterisk"])
    assert failed_checks(result) == ["raw/asterisk:lines_conserved"]


# --- checks per delivery day, partitions from the first data, default statuses, named jobs -----------------


def test_a_clean_later_day_leaves_an_earlier_days_quarantine_check_failing(paths):
    from orchestration.pipeline.runs import check_status_by_partition, failed_check_lines

    land(paths, "asterisk", "2026-10-01", "ast_20261001T01Z.csv", f"{ast(uid='1')}\n".encode())
    land(paths, "asterisk", "2026-10-01", "ast_20261001T02Z.csv.gz", gzip.compress(b"x" * 999, mtime=0)[:25])
    land(paths, "asterisk", "2026-10-02", "ast_20261002T01Z.csv", f"{ast(uid='2')}\n".encode())

    bad = load_days(paths, date(2026, 10, 1), date(2026, 10, 1), ["asterisk"])
    assert failed_check_lines(bad) == ["raw/asterisk:no_quarantined_files (2026-10-01)"]
    clean = load_days(paths, date(2026, 10, 2), date(2026, 10, 2), ["asterisk"])
    assert failed_checks(clean) == []

    status = check_status_by_partition(paths, "raw/asterisk", "no_quarantined_files")
    assert status == {"2026-10-01": False, "2026-10-02": True}
    assert check_status_by_partition(paths, "raw/asterisk", "lines_conserved") == {
        "2026-10-01": True,
        "2026-10-02": True,
    }

    # a range run evaluates each of its days on its own: one failing, one passing, each named
    both = load_days(paths, date(2026, 10, 1), date(2026, 10, 2), ["asterisk"])
    quarantine = sorted(
        (c.partition, c.passed, c.metadata["quarantined"].value)
        for c in both.get_asset_check_evaluations()
        if c.check_name == "no_quarantined_files"
    )
    assert quarantine == [("2026-10-01", False, 1), ("2026-10-02", True, 0)]
    assert failed_check_lines(both) == ["raw/asterisk:no_quarantined_files (2026-10-01)"]
    assert check_status_by_partition(paths, "raw/asterisk", "no_quarantined_files") == status


def test_partitions_start_at_the_first_landed_day_and_stay_there(paths):
    from orchestration.pipeline.partitions import FALLBACK_START, PartitionsStartError, partitions_start

    recorded = paths.dagster_home / "partitions_start"
    assert partitions_start(paths, {}) == FALLBACK_START == "2026-01-01"
    assert not recorded.exists()  # nothing landed: nothing recorded, the next look finds the first day

    land(paths, "asterisk", "2026-09-05", "a.csv", b"x\n")
    land(paths, "crm", "2026-09-03", "accounts.csv", b"x\n")
    land(paths, "asterisk", "not-a-day", "b.csv", b"x\n")
    assert partitions_start(paths, {}) == "2026-09-03"
    assert recorded.read_text() == "2026-09-03\n"

    land(paths, "carrier", "2026-08-20", "c.csv", b"x\n")  # older files landing later do not move it
    assert partitions_start(paths, {}) == "2026-09-03"
    assert partitions_start(paths, {"TOLLHOUSE_PARTITIONS_START": "2026-07-01"}) == "2026-07-01"
    expected = r"TOLLHOUSE_PARTITIONS_START: expected a date YYYY-MM-DD, got '2026-13-01'"
    with pytest.raises(PartitionsStartError, match=expected):
        partitions_start(paths, {"TOLLHOUSE_PARTITIONS_START": "2026-13-01"})

    # the code location (what `dagster dev` imports) starts its days and months there
    env = {k: v for k, v in os.environ.items() if k != "TOLLHOUSE_PARTITIONS_START"}
    shown = subprocess.run(
        [sys.executable, "-c", "from orchestration.pipeline.partitions import billing_months, delivery_days as d; "
         "print(d.get_first_partition_key(), billing_months.get_first_partition_key())"],
        capture_output=True, text=True, timeout=120, env=env, check=True,
    ).stdout.split()  # fmt: skip
    assert shown == ["2026-09-03", "2026-09-01"]


def test_schedules_and_sensors_start_as_the_docs_say():
    from orchestration.pipeline.definitions import defs

    statuses = {s.name: s.default_status.value for s in [*defs.schedules, *defs.sensors]}
    assert statuses == {
        "daily_load_schedule": "RUNNING",
        "assurance_schedule": "RUNNING",
        "monthly_close_schedule": "STOPPED",
        "fraud_training_schedule": "STOPPED",
        "landing_sensor": "STOPPED",
        "fraud_after_load": "RUNNING",
        "run_recovery_sensor": "RUNNING",
    }
    docs = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()
    for name, status in statuses.items():
        assert f"| `{name}` | {status.lower()} |" in docs


def job_names(paths) -> list[str]:
    """The job of every run in the instance, oldest first."""
    from orchestration.pipeline.instance import get_instance

    return [r.dagster_run.job_name for r in reversed(get_instance(paths).get_run_records())]


def test_cli_load_runs_are_daily_load_runs(paths, capsys):
    from orchestration.cli import main

    land(paths, "asterisk", "2026-10-01", "ast_20261001T01Z.csv", f"{ast(uid='1')}\n".encode())
    assert main(["load"]) == 0
    assert job_names(paths) == ["daily_load", "daily_load"]


def test_a_billing_backfill_as_the_ui_launches_it_and_every_cli_run_under_its_job(capsys):
    """The UI's backfill of billing months (the billing_backfill job over a range of month partitions, one
    run) drafts the month's invoices; each CLI command's run is recorded under its job's name."""
    from orchestration.cli import main
    from orchestration.pipeline.instance import get_instance
    from orchestration.pipeline.runs import job_def
    from orchestration.warehouse import connect
    from tests.worlds import operator_month

    with operator_month(months=2, through=date(2026, 10, 1), stages=("load", "build")) as (paths, _):
        range_tags = {
            "dagster/asset_partition_range_start": "2026-09-01",
            "dagster/asset_partition_range_end": "2026-09-01",
        }
        result = job_def(paths, "billing_backfill").execute_in_process(
            instance=get_instance(paths), tags=range_tags, raise_on_error=False
        )
        assert result.success, failed_checks(result)
        assert result.dagster_run.job_name == "billing_backfill"
        invoiced = [
            m.partition
            for m in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())
            if m.asset_key == dg.AssetKey(["marts", "fct_invoices"])
        ]
        assert invoiced == ["2026-09-01"]

        def drafts() -> list[tuple]:
            with connect(paths.warehouse, read_only=True) as con:
                return con.execute(
                    """select i.invoice_number, i.account_id, i.status, i.currency, i.subtotal, i.tax_total,
                              i.total, i.line_count, i.call_count,
                              (select sum(l.amount) from marts.fct_invoice_lines l
                               where l.invoice_number = i.invoice_number),
                              (select count(*) from marts.fct_invoice_lines l
                               where l.invoice_number = i.invoice_number),
                              (select count(*) from marts.fct_invoice_calls c
                               where c.invoice_number = i.invoice_number)
                       from marts.fct_invoices i where i.billing_period = date '2026-09-01' order by 1"""
                ).fetchall()

        september = drafts()
        with connect(paths.warehouse, read_only=True) as con:
            calling = {r[0] for r in con.execute(
                "select distinct account_id from marts.fct_invoice_calls where billing_period = date '2026-09-01'"
            ).fetchall()}  # fmt: skip
        # one draft per account of the 12 simulated that was billed, every account that called among them
        assert calling <= {row[1] for row in september} and 10 <= len(calling) <= len(september) <= 12
        assert len({row[1] for row in september}) == len(september)
        for number, _, status, _, subtotal, tax, total, lines, calls, line_sum, line_rows, call_rows in september:
            assert status == "draft", number
            assert total == subtotal + tax == line_sum and (lines, calls) == (line_rows, call_rows), number

        # the CLI's runs, each under its job: a re-run of the backfill (identical drafts), the close, the
        # controls, the fraud model retrained then every call scored
        assert main(["backfill", "--from", "2026-09"]) == 0
        assert drafts() == september
        assert main(["close", "--period", "2026-09", "--by", "test"]) == 0
        assert main(["assure"]) == 0
        assert main(["fraud", "train"]) == 0
        assert job_names(paths) == [
            "daily_load",
            "daily_load",
            "billing_backfill",
            "billing_backfill",
            "monthly_close",
            "revenue_assurance",
            "fraud_training",
            "fraud_scoring",
        ]
