"""The whole pipeline on a small simulated operator, through real Dagster runs: every ingestion-level fault
the simulator injected is found with the expected reason, and no line is lost anywhere."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.runner import build_models, failed_checks, landed_days, load_days
from orchestration.scoring import ingestion_scorecard
from orchestration.simulator import SimulationConfig, simulate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("pipeline")
    mp.setenv("TOLLHOUSE_DATA_DIR", str(data))
    mp.setenv("DAGSTER_HOME", str(data / "dagster"))
    from orchestration.settings import Paths

    paths = Paths(data)
    simulate(SimulationConfig(seed=9, accounts=12, calls_per_day=1000, out=data))
    days = landed_days(paths)
    load = load_days(paths, days[0], days[-1])
    build = build_models(paths)
    yield paths, load, build
    mp.undo()


def test_every_ingestion_fault_found_with_its_reason(loaded):
    paths, load, _ = loaded
    assert load.success
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        card = ingestion_scorecard(con, paths.ground_truth)
        kinds = {kind for kind, *_ in card}
        assert {"malformed_line", "truncated_line", "unescaped_quote", "encoding_error", "blank_line",
                "corrupt_gzip", "unknown_layout", "redelivered_file"} <= kinds  # fmt: skip
        assert [(k, e, n) for k, e, n, found in card if found != n] == []
        # and nothing else was rejected: every reject is an injected fault
        injected_lines = sum(n for _, effect, n, _ in card if effect.startswith("reject:"))
        assert con.execute("select count(*) from raw.rejects").fetchone() == (injected_lines,)


def test_no_line_lost_and_checks_say_what_happened(loaded):
    paths, load, build = loaded
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute(
            "select count(*) from marts.rpt_ingestion_daily where lines_unaccounted <> 0"
        ).fetchone() == (0,)
        quarantined_sources = {r[0] for r in con.execute(
            "select distinct source from raw.load_audit where status = 'quarantined'"
        ).fetchall()}  # fmt: skip
    assert build.success and failed_checks(build) == []
    # the quarantine check fails loudly for exactly the sources that had an unreadable file
    assert sorted(failed_checks(load)) == sorted(f"raw/{s}:no_quarantined_files" for s in quarantined_sources)
    assert not [c for c in failed_checks(load) if c.endswith("lines_conserved")]


def test_reloading_the_whole_range_is_idempotent(loaded):
    paths, _, _ = loaded

    def contents():
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            return (
                con.execute(
                    "select count(*), sum(hash(file_id, line_no, src, dst, billsec)) from raw.asterisk__cdr"
                ).fetchone(),
                con.execute("select count(*), sum(hash(file_id, line_no)) from raw.carrier__cdr").fetchone(),
                con.execute("select count(*), sum(hash(file_id, line_no, reason)) from raw.rejects").fetchone(),
                con.execute("select status, count(*) from raw.load_audit group by 1 order by 1").fetchall(),
            )

    before = contents()
    days = landed_days(paths)
    assert load_days(paths, days[0], days[-1]).success
    assert contents() == before
