"""The operator's month ends on a small simulated operator: billing periods (docs/billing.md) and
then revenue assurance over them (section 7). Real DuckDB, real Dagster runs through the runner and the CLI,
a real SQLite case store, no mocks. One module: both build on the same expensive warehouse.

One warehouse serves the whole module. The operator's August and September are simulated; every delivery
day up to the day September's late file lands is loaded and mediated; then, in the order an operator works
(each stage a module fixture, so a test run alone still gets its prerequisites):

    backfilled   August..October billed as one run, twice
    aug_closed   August closed (the close's documents kept for comparison)
    late_billed  September closed, the remaining delivery days (September's late file) loaded and mediated,
                 September..October billed again

The billing tests then close October, re-open and re-close September (its late calls are on October's closed
invoice), and re-open on a warehouse never billed. Last, `assured` runs the revenue-assurance controls, works
a case as an analyst would, runs the pipeline again, and the controls are scored against the simulator's
billing-system leaks and payment faults.

Money is compared as Decimal, exactly. The data folder is on tmpfs when there is one: Dagster writes an event
per asset and partition to its SQLite storage, and 65 delivery days of a few dozen assets take a minute of
fsyncs on a disk.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.billing.invoices.period import render_period
from orchestration.billing.periods import BillingActError, close_period, period_log, reopen_period
from orchestration.cli import main
from orchestration.pipeline.instance import get_instance
from orchestration.pipeline.runs import bill_months, build_models, close_month, failed_checks, landed_days, load_days
from orchestration.settings import Paths
from orchestration.warehouse import connect
from tests.worlds import data_folder, simulated
from tools.simulator import SimulationConfig

# the module's operator (simulated, loaded, mediated, three months billed twice) is built in its first test's
# fixtures: past the default timeout on a loaded machine (it was, once, under 2 cores' worth of other tests)
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

AUG, SEP, OCT = date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)
MONTHS = (AUG, SEP, OCT)
CENT = Decimal("0.01")
INVOICE_TABLES = ("fct_invoices", "fct_invoice_lines", "fct_invoice_calls")
BILLING_MARTS = {f"marts/{t}" for t in INVOICE_TABLES}


@dataclass
class Operator:
    paths: Paths
    late_file: str  # landing path of September's file that arrives after September closed
    remaining_days: list[date]  # delivery days not loaded by the fixture: the late file's, and after
    stages: dict = field(default_factory=dict)  # what each stage fixture ran and saw


# ---------------------------------------------------------------------------------------------------------------
# Reading the warehouse (read-only connections, closed before any run: dbt opens the file from a subprocess)


def query(paths: Paths, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def invoice_tables(paths: Paths, months=MONTHS, exclude: str = "") -> dict[str, list[tuple]]:
    """The full sorted contents of the three billing marts for `months`."""
    marks = ", ".join("?" for _ in months)
    star = f"* exclude ({exclude})" if exclude else "*"
    return {
        table: query(
            paths, f"select {star} from marts.{table} where billing_period in ({marks}) order by all", list(months)
        )
        for table in INVOICE_TABLES
    }


def period_rows(paths: Paths, month: date) -> list[tuple]:
    return query(
        paths,
        "select action, acted_by, reason, invoices, totals from billing.period_log where billing_period = ? "
        "order by acted_at",
        [month],
    )


def documents(folder: Path) -> dict[str, str]:
    """sha256 of every file in a month's document folder."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def materialized(result: dg.ExecuteInProcessResult) -> dict[str, set[str]]:
    """Asset key -> the partitions the run materialized."""
    out: dict[str, set[str]] = defaultdict(set)
    for event in result.get_asset_materialization_events():
        m = event.event_specific_data.materialization
        out[m.asset_key.to_user_string()].add(m.partition)
    return dict(out)


def run_errors(result: dg.ExecuteInProcessResult) -> list[str]:
    """The run's step failures, with the error each raised (dbt's parsed errors included)."""
    return [
        f"{e.step_key}: {e.event_specific_data.error.message}"
        for e in result.all_events
        if e.is_step_failure and e.event_specific_data.error
    ]


def assert_ran(result: dg.ExecuteInProcessResult) -> None:
    assert result.success, "\n".join(run_errors(result))[:4000]
    assert failed_checks(result) == []


def half_up(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def assert_invoices_add_up(paths: Paths, months=MONTHS) -> None:
    """Totals are sums of lines; usage lines are the per-(call type, destination) sums of the calls' charges,
    rounded once, half-up (recomputed here from int_calls_billed with Python's Decimal)."""
    marks = ", ".join("?" for _ in months)
    invoices = query(
        paths,
        f"""select invoice_number, account_id, billing_period, subtotal, tax_total, total, line_count, call_count
            from marts.fct_invoices where billing_period in ({marks})""",
        list(months),
    )
    assert invoices
    lines: dict[str, list[tuple]] = defaultdict(list)
    for number, line_type, amount in query(
        paths,
        f"select invoice_number, line_type, amount from marts.fct_invoice_lines where billing_period in ({marks})",
        list(months),
    ):
        lines[number].append((line_type, amount))
    calls = Counter(
        number
        for (number,) in query(
            paths, f"select invoice_number from marts.fct_invoice_calls where billing_period in ({marks})", list(months)
        )
    )
    for number, _, _, subtotal, tax_total, total, line_count, call_count in invoices:
        its = lines[number]
        assert all(isinstance(a, Decimal) and a == half_up(a) for _, a in its), number
        assert total == sum((a for _, a in its), Decimal(0)), number
        assert subtotal == sum((a for t, a in its if t != "tax"), Decimal(0)), number
        assert subtotal + tax_total == total, number
        assert (line_count, call_count) == (len(its), calls[number]), number

    # the usage lines of each invoice, recomputed from the calls; a late call of a closed month is on a later
    # invoice as an adjustment (checked on its own), not on its month's frozen usage lines
    groups: dict[tuple, Decimal] = defaultdict(Decimal)
    for account, month, call_type, destination, country, charge in query(
        paths,
        f"""select account_id, billing_period, call_type, destination, destination_country, charge
            from intermediate.int_calls_billed where billing_period in ({marks}) and not is_tiered
            and call_id not in (select call_id from marts.fct_invoice_calls where line_type = 'adjustment')""",
        list(months),
    ):
        assert isinstance(charge, Decimal)
        groups[account, month, call_type, destination, country] += charge
    expected: dict[tuple, list[Decimal]] = defaultdict(list)
    for (account, month, *_), charge in groups.items():
        expected[account, month].append(half_up(charge))
    billed: dict[tuple, list[Decimal]] = defaultdict(list)
    for account, month, amount in query(
        paths,
        f"""select account_id, billing_period, amount from marts.fct_invoice_lines
            where line_type = 'usage' and billing_period in ({marks})""",
        list(months),
    ):
        billed[account, month].append(amount)
    assert expected, "no usage at all: the fixture billed nothing"
    assert {k: sorted(v) for k, v in billed.items()} == {k: sorted(v) for k, v in expected.items()}
    assert {k: sum(v) for k, v in billed.items()} == {k: sum(v) for k, v in expected.items()}


def assert_every_call_billed_once(paths: Paths, months=MONTHS) -> None:
    """Each rated call with billable seconds in an account's period is on exactly one invoice of that account:
    its period's as usage, or (late for a closed period) a later period's as an adjustment."""
    marks = ", ".join("?" for _ in months)
    expected = query(
        paths,
        f"""select rated.call_id, rated.account_id, periods.billing_period
            from marts.fct_rated_calls as rated
            inner join intermediate.int_billing_periods_bounded as periods
                on periods.account_id = rated.account_id
                and rated.answer_at >= periods.period_start_at and rated.answer_at < periods.period_end_at
            where rated.billable_seconds > 0 and periods.billing_period in ({marks})""",
        list(months),
    )
    billed = query(
        paths,
        f"""select call_id, account_id, coalesce(original_period, billing_period), line_type, billing_period
            from marts.fct_invoice_calls where coalesce(original_period, billing_period) in ({marks})""",
        list(months),
    )
    assert expected
    twice = [c for c, n in Counter(r[0] for r in billed).items() if n > 1]
    assert twice == [], f"{len(twice)} calls on more than one invoice line, e.g. {twice[:5]}"
    assert sorted(r[:3] for r in billed) == sorted(expected)
    for call_id, _, original, line_type, billed_in in billed:
        assert (line_type == "usage" and billed_in == original) or (
            line_type == "adjustment" and billed_in > original
        ), call_id
    (duplicates,) = query(paths, "select count(*) - count(distinct call_id) from marts.fct_invoice_calls")[0]
    assert duplicates == 0


# ---------------------------------------------------------------------------------------------------------------
# The operator and its month ends


@pytest.fixture(scope="module")
def operator():
    with data_folder("billing") as paths:
        simulated(paths.data, SimulationConfig(seed=7, start=AUG, months=2, accounts=12, calls_per_day=200))
        with (paths.ground_truth / "injections.csv").open(newline="") as handle:
            (late_file,) = [
                row["file"]
                for row in csv.DictReader(handle)
                if row["kind"] == "late_file"
                and "after the month closed" in row["detail"]
                and row["detail"].startswith(f"due {SEP:%Y-%m}")
            ]
        late_day = date.fromisoformat(late_file.split("/")[1])
        days = landed_days(paths)
        assert days[0] == AUG and late_day.month == 10
        # the operator's September month end: everything delivered before the late file is in
        loaded = load_days(paths, days[0], late_day - timedelta(days=1))
        assert loaded.success  # (the simulator's corrupt files fail no_quarantined_files, on purpose)
        assert_ran(build_models(paths, days[0], late_day - timedelta(days=1)))
        yield Operator(paths, late_file, [d for d in days if d >= late_day])


@pytest.fixture(scope="module")
def backfilled(operator):
    """August..October billed through Dagster twice, with the contents of the marts after each run."""
    paths = operator.paths
    runs_before = get_instance(paths).get_runs_count()
    first = bill_months(paths, AUG, OCT)
    assert_ran(first)
    after_first = invoice_tables(paths)
    second = bill_months(paths, AUG, OCT)
    after_second = invoice_tables(paths)
    operator.stages["backfilled"] = {
        "runs": get_instance(paths).get_runs_count() - runs_before,
        "results": (first, second),
        "contents": (after_first, after_second),
    }
    return operator


@pytest.fixture(scope="module")
def aug_closed(backfilled):
    """August closed through the monthly close; its drafts just before, its marts and documents at the close."""
    paths = backfilled.paths
    drafts = invoice_tables(paths, [AUG], exclude="status")
    result = close_month(paths, AUG, "billing-test", "month-end close")
    folder = paths.invoices / f"{AUG:%Y-%m}"
    backfilled.stages["aug_closed"] = {
        "result": result,
        "drafts": drafts,
        "frozen": invoice_tables(paths, [AUG]),
        "documents": documents(folder) if folder.is_dir() else {},
    }
    return backfilled


@pytest.fixture(scope="module")
def late_billed(aug_closed):
    """September closed; then its late file and the days after it loaded and mediated; then September and
    October billed again."""
    operator = aug_closed
    paths = operator.paths
    closed = close_month(paths, SEP, "billing-test", "month-end close")
    frozen = invoice_tables(paths, [SEP])
    folder = paths.invoices / f"{SEP:%Y-%m}"
    docs = documents(folder) if folder.is_dir() else {}

    def late_calls() -> list[str]:
        rows = query(
            paths,
            """select calls.call_id from marts.fct_calls as calls
               inner join raw.load_audit as audit using (file_id)
               inner join marts.fct_rated_calls as rated using (call_id)
               where audit.path = ? and rated.billable_seconds > 0 order by 1""",
            [operator.late_file],
        )
        return [call_id for (call_id,) in rows]

    assert late_calls() == []  # not delivered yet
    first, last = operator.remaining_days[0], operator.remaining_days[-1]
    loaded = load_days(paths, first, last)
    built = build_models(paths, first, last)
    billed = bill_months(paths, SEP, OCT)
    operator.stages["late_billed"] = {
        "results": (closed, loaded, built, billed),
        "frozen": frozen,
        "documents": docs,
        "late_calls": late_calls(),
    }
    return operator


# ---------------------------------------------------------------------------------------------------------------
# 1. Backfill


def test_a_three_month_backfill_is_one_dagster_run_and_rerunning_it_changes_nothing(backfilled):
    """Billing three months is one Dagster run over three month partitions; running it again changes no row."""
    stage = backfilled.stages["backfilled"]
    assert stage["runs"] == 2  # one run per backfill
    for result in stage["results"]:
        assert_ran(result)
        tags = result.dagster_run.tags
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
            "2026-08-01",
            "2026-10-01",
        )
        done = materialized(result)
        months = {m.isoformat() for m in MONTHS}
        for key in (*BILLING_MARTS, "intermediate/int_invoices_drafted", "billing/invoice_documents"):
            assert done.get(key) == months, key
        assert "billing/period_close" not in done  # a backfill never closes a month
        # as stored in the instance: the three months' invoices were materialized by this one run
        records = (
            get_instance(backfilled.paths)
            .fetch_materializations(dg.AssetKey(["marts", "fct_invoices"]), limit=100)
            .records
        )
        assert {r.partition_key for r in records if r.run_id == result.run_id} == months
    first, second = stage["contents"]
    assert first == second
    invoices = first["fct_invoices"]
    assert {row[0] for row in invoices} == {"draft"}
    assert {row[3] for row in invoices} == set(MONTHS)  # (status, invoice_number, account_id, billing_period)
    assert len(first["fct_invoice_calls"]) > 1000 and len(first["fct_invoice_lines"]) > len(invoices)
    assert query(backfilled.paths, "select count(*) from billing.period_log") == [(0,)]


# ---------------------------------------------------------------------------------------------------------------
# 2. Money


def test_invoice_totals_are_the_exact_sums_of_their_rounded_lines(backfilled):
    """Every invoice total is the exact sum of its lines; each usage line is its calls' charges rounded half-up."""
    assert_invoices_add_up(backfilled.paths)


def test_every_billable_rated_call_is_on_exactly_one_invoice(backfilled):
    """Every billable rated call of an account's period is on exactly one invoice: none lost, none billed twice."""
    assert_every_call_billed_once(backfilled.paths)


# ---------------------------------------------------------------------------------------------------------------
# 3. Closing


def test_a_closed_month_rebilled_and_rerendered_is_byte_identical_and_closing_again_changes_nothing(
    aug_closed, tmp_path
):
    """A closed month re-billed and re-rendered gives the same rows and bytes; closing it again is a no-op."""
    paths = aug_closed.paths
    stage = aug_closed.stages["aug_closed"]
    assert_ran(stage["result"])
    done = materialized(stage["result"])
    assert done["billing/period_close"] == done["billing/invoice_documents"] == {"2026-08-01"}
    frozen = stage["frozen"]

    # the close froze exactly what the month's last billing run drafted
    invoices = frozen["fct_invoices"]
    assert invoices and {(r[0], r[-1] is not None) for r in invoices} == {("closed", True)}
    assert {t: sorted(r[:-1] if t == "fct_invoices" else r for r in rows) for t, rows in stage["drafts"].items()} == {
        t: sorted(r[1:-1] if t == "fct_invoices" else r[1:] for r in rows) for t, rows in frozen.items()
    }
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, total in query(
        paths, "select currency, total from marts.fct_invoices where billing_period = ?", [AUG]
    ):
        totals[currency] += total
    logged = [
        (
            "close",
            "billing-test",
            "month-end close",
            len(invoices),
            json.dumps({c: str(t) for c, t in sorted(totals.items())}, sort_keys=True),
        )
    ]
    assert period_rows(paths, AUG) == logged

    # the documents written at the close: every invoice as HTML, PDF and calls CSV, the period's exports
    at_close = stage["documents"]
    numbers = {r[1] for r in invoices}
    expected = {f"{n}{suffix}" for n in numbers for suffix in (".html", ".pdf", "-calls.csv")}
    assert expected | {"invoice_lines.csv", "invoice_lines.json", "gl_journal.csv"} <= set(at_close)

    # re-run billing for the closed month; its documents are rendered again from nothing
    folder = paths.invoices / f"{AUG:%Y-%m}"
    shutil.move(folder, tmp_path / "at-close")
    rebilled = bill_months(paths, AUG, AUG)
    assert_ran(rebilled)
    assert materialized(rebilled)["billing/invoice_documents"] == {"2026-08-01"}
    assert invoice_tables(paths, [AUG]) == frozen
    assert documents(folder) == at_close
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        render_period(con, AUG, tmp_path / "again")
    assert documents(tmp_path / "again" / f"{AUG:%Y-%m}") == at_close

    # closing a closed month again (what billing/period_close does for each month of its run)
    with connect(paths.warehouse) as con:
        act = close_period(con, AUG, "someone-else", "second close")
    assert (act.action, act.invoices, json.dumps(act.totals, sort_keys=True)) == ("none", *logged[0][3:])
    assert period_rows(paths, AUG) == logged
    assert invoice_tables(paths, [AUG]) == frozen  # closed_at included: the close did not run again
    assert documents(folder) == at_close


# ---------------------------------------------------------------------------------------------------------------
# 4. Late calls


def test_a_late_call_for_a_closed_month_is_billed_once_as_an_adjustment_in_the_next_open_month(late_billed):
    """A late call of a closed month is billed once, as an adjustment of the next open month; closed stays closed."""
    paths = late_billed.paths
    stage = late_billed.stages["late_billed"]
    closed, loaded, built, billed = stage["results"]
    assert_ran(closed)
    assert loaded.success and built.success and failed_checks(built) == []
    assert_ran(billed)
    late = stage["late_calls"]
    assert late, f"no billable call in {late_billed.late_file}"

    # September exactly as frozen at its close (re-billed in the same run as October), documents too
    assert invoice_tables(paths, [SEP]) == stage["frozen"]
    assert documents(paths.invoices / f"{SEP:%Y-%m}") == stage["documents"]
    marks = ", ".join("?" for _ in late)
    assert query(
        paths,
        f"select count(*) from marts.fct_invoice_calls where billing_period = ? and call_id in ({marks})",
        [SEP, *late],
    ) == [(0,)]

    # every late call: one itemised adjustment and one adjustment line on its account's October invoice
    rows = query(
        paths,
        f"""select calls.call_id, calls.status, calls.billing_period, calls.line_type, calls.original_period,
                   calls.account_id = rated.account_id, lines.line_type, lines.original_period, lines.amount,
                   calls.charge, lines.invoice_number = calls.invoice_number
            from marts.fct_invoice_calls as calls
            inner join marts.fct_rated_calls as rated using (call_id)
            left join marts.fct_invoice_lines as lines on lines.reference = calls.call_id
            where calls.call_id in ({marks}) order by 1""",
        late,
    )
    assert [r[0] for r in rows] == late  # each exactly once (an adjustment line per call, no more)
    for call_id, status, month, line_type, original, own, l_type, l_original, amount, charge, same in rows:
        assert (status, month, line_type, original, own) == ("draft", OCT, "adjustment", SEP, True), call_id
        assert (l_type, l_original, same) == ("adjustment", SEP, True), call_id
        assert amount == half_up(charge), call_id

    # and the invariants hold with the adjustments in
    assert_invoices_add_up(paths, [SEP, OCT])
    assert_every_call_billed_once(paths)


# ---------------------------------------------------------------------------------------------------------------
# 5. Re-opening


def test_reopening_needs_a_reason_and_a_closed_month_is_logged_and_closing_again_freezes_it(aug_closed, capsys):
    """Re-opening needs a reason and a closed month, is logged with who, why and totals; a new close re-freezes."""
    paths = aug_closed.paths
    frozen = aug_closed.stages["aug_closed"]["frozen"]
    at_close = aug_closed.stages["aug_closed"]["documents"]
    logged = period_rows(paths, AUG)
    assert [r[0] for r in logged] == ["close"]

    with connect(paths.warehouse) as con:
        for reason in ("", "   ", None):
            with pytest.raises(BillingActError, match="needs a reason"):
                reopen_period(con, AUG, "billing-test", reason)
        with pytest.raises(BillingActError, match="2026-10 is not closed"):
            reopen_period(con, OCT, "billing-test", "a customer disputes a rate")
    assert period_rows(paths, AUG) == logged
    assert invoice_tables(paths, [AUG]) == frozen

    with connect(paths.warehouse) as con:
        act = reopen_period(con, AUG, "auditor", "  a customer disputes a rate  ")
        log = [r for r in period_log(con) if r[0] == AUG]
    assert (act.action, act.invoices) == ("reopen", logged[0][3])
    assert json.dumps(act.totals, sort_keys=True) == logged[0][4]
    assert [(r[1], r[3], r[4], r[5], r[6]) for r in log] == [
        ("close", "billing-test", "month-end close", logged[0][3], logged[0][4]),
        ("reopen", "auditor", "a customer disputes a rate", logged[0][3], logged[0][4]),
    ]
    assert log[1][2] > log[0][2]  # acted_at
    drafts = invoice_tables(paths, [AUG])
    assert {r[0] for r in drafts["fct_invoices"]} == {"draft"}
    assert {r[-1] for r in drafts["fct_invoices"]} == {None}  # closed_at
    assert {r[0] for r in drafts["fct_invoice_lines"] + drafts["fct_invoice_calls"]} == {"draft"}
    assert query(paths, "select count(*) from billing.closed_invoices where billing_period = ?", [AUG]) == [(0,)]

    # closed again from the command line: a real monthly-close run
    assert main(["close", "--period", "2026-08", "--by", "billing-test", "--reason", "closed again"]) == 0
    assert "invoice documents:" in capsys.readouterr().out
    assert [r[:3] for r in period_rows(paths, AUG)] == [
        ("close", "billing-test", "month-end close"),
        ("reopen", "auditor", "a customer disputes a rate"),
        ("close", "billing-test", "closed again"),
    ]
    again = invoice_tables(paths, [AUG])
    assert {r[0] for r in again["fct_invoices"]} == {"closed"}
    new_closed_at = {r[-1] for r in again["fct_invoices"]}
    assert len(new_closed_at) == 1 and min(new_closed_at) > max(r[-1] for r in frozen["fct_invoices"])
    # nothing changed in August's data: the same invoices, lines, calls and documents as at the first close
    assert {t: [r[:-1] if t == "fct_invoices" else r for r in rows] for t, rows in again.items()} == {
        t: [r[:-1] if t == "fct_invoices" else r for r in rows] for t, rows in frozen.items()
    }
    assert documents(paths.invoices / f"{AUG:%Y-%m}") == at_close


# ---------------------------------------------------------------------------------------------------------------
# 6. Command line


@pytest.mark.parametrize("command", ["backfill", "close", "reopen"])
def test_billing_commands_have_help(command, capsys):
    """`tollhouse backfill|close|reopen --help` exits 0 with the command's usage."""
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tollhouse {command}")
    assert ("--from" if command == "backfill" else "--period") in out


def test_reopen_from_the_command_line_needs_a_reason_and_a_closed_month(backfilled, capsys):
    """`tollhouse reopen` without --reason, or of an open month, exits non-zero with a message and logs nothing."""
    with pytest.raises(SystemExit) as exit_:
        main(["reopen", "--period", "2026-08"])
    assert exit_.value.code != 0
    assert "--reason" in capsys.readouterr().err
    before = query(backfilled.paths, "select count(*) from billing.period_log")
    assert main(["reopen", "--period", "2026-10", "--reason", "test", "--by", "auditor"]) == 2
    assert "cannot re-open 2026-10: 2026-10 is not closed" in capsys.readouterr().out
    assert query(backfilled.paths, "select count(*) from billing.period_log") == before


# ---------------------------------------------------------------------------------------------------------------
# 7. Re-opening a month whose late calls a later closed month already billed


def test_reclosing_a_month_does_not_bill_again_the_late_calls_a_later_closed_month_billed(late_billed):
    """Re-opening September after October closed with its late calls, then closing it again, bills no call twice."""
    paths = late_billed.paths
    late = late_billed.stages["late_billed"]["late_calls"]
    assert late
    assert_ran(close_month(paths, OCT, "billing-test", "month-end close"))
    marks = ", ".join("?" for _ in late)
    on_october = f"select count(*) from billing.closed_invoice_calls where billing_period = ? and call_id in ({marks})"
    assert query(paths, on_october, [OCT, *late]) == [(len(late),)]

    with connect(paths.warehouse) as con:
        reopen_period(con, SEP, "auditor", "a customer disputes a rate")
    reclosed = close_month(paths, SEP, "billing-test", "closed again after review")
    assert_ran(reclosed)
    assert [r[0] for r in period_rows(paths, SEP)] == ["close", "reopen", "close"]
    assert query(paths, on_october, [OCT, *late]) == [(len(late),)]
    # the late calls stay October's adjustments: September closes again as it first did
    frozen = late_billed.stages["late_billed"]["frozen"]
    again = invoice_tables(paths, [SEP])
    assert {t: [r[:-1] if t == "fct_invoices" else r for r in rows] for t, rows in again.items()} == {
        t: [r[:-1] if t == "fct_invoices" else r for r in rows] for t, rows in frozen.items()
    }
    assert_every_call_billed_once(paths)


def test_reopen_of_a_month_on_a_warehouse_never_billed_is_refused_with_a_message(paths, capsys):
    """`tollhouse reopen` before any billing run refuses the month as not closed (exit 2), without a traceback."""
    paths.warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(paths.warehouse)).close()  # loaded, never billed: no billing schema yet
    assert main(["reopen", "--period", "2026-08", "--reason", "test", "--by", "auditor"]) == 2
    assert "cannot re-open 2026-08: 2026-08 is not closed" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------------
# 6. Revenue assurance over the billed months (docs/assurance.md)

BILLING_CONTROLS = ("RA-03", "RA-04", "RA-05", "RA-07", "RA-08", "RA-09")


def findings_table(paths: Paths) -> list[tuple]:
    return query(paths, "select * exclude (as_of_date) from marts.fct_leakage_findings order by finding_id")


@pytest.fixture(scope="module")
def assured(late_billed):
    """The controls run; an analyst works the largest under-billing case to recovery and notes another; then
    the pipeline runs again (September..October re-billed, the controls again)."""
    from orchestration.assurance import cases
    from orchestration.pipeline.runs import assure

    paths = late_billed.paths
    first = assure(paths)
    findings_first, cases_first = findings_table(paths), cases.list_cases(paths.cases)
    worked = max(
        (c for c in cases_first if c.finding_type == "subscription_not_billed"), key=lambda c: c.leakage_amount
    )
    cases.assign(paths.cases, worked.case_id, "alice", "alice")
    for status in ("investigating", "confirmed", "recovery_pending"):
        cases.move(paths.cases, worked.case_id, status, "alice", note=f"moved to {status}")
    cases.move(paths.cases, worked.case_id, "recovered", "alice", recovered_amount=worked.leakage_amount)
    noted = next(c for c in cases_first if c.finding_type == "wrong_plan")
    cases.add_note(paths.cases, noted.case_id, "customer says the plan changed in the CRM first", "bob")
    before_rerun = {c: cases.get_case(paths.cases, c) for c in (worked.case_id, noted.case_id)}
    rebilled = bill_months(paths, SEP, OCT)
    second = assure(paths)
    late_billed.stages["assured"] = {
        "results": (first, rebilled, second),
        "findings": (findings_first, findings_table(paths)),
        "cases": (cases_first, cases.list_cases(paths.cases)),
        "worked": before_rerun,
    }
    return late_billed


def test_assurance_runs_clean_and_every_injected_leak_is_found_with_its_value(assured):
    """Every leak the simulated billing system was given, and every payment fault due by the data's day, is
    found by its control with the injected money, to the last decimal; no finding matches no injection."""
    from tools.simulator.assurance_score import MONEY_CONTROLS, score, summarize

    for result in assured.stages["assured"]["results"]:
        assert_ran(result)  # the reconciliation's `unexplained = 0` test among the checks
    rows, summary = score(assured.paths)
    kinds = {r["kind"] for r in rows if r["kind"]}
    assert {"unbilled_call", "wrong_rate", "zero_rated", "duplicate_line", "wrong_plan", "subscription_not_billed",
            "billed_after_cancellation", "payment_missing", "payment_partial"} <= kinds  # fmt: skip
    for r in rows:
        assert r["found"] == r["injected"], r
        assert r["found_value"] == r["injected_value"], r
        assert r["unmatched_findings"] == 0, r
    assert summary["recall_count_pct"] == summary["recall_value_pct"] == 100
    assert summary["leakage_found"] == summary["injected_value"]
    assert summarize(rows, summary["leakage_found"])["unmatched"] == 0
    assert set(MONEY_CONTROLS) == {"RA-03", "RA-04", "RA-05", "RA-07", "RA-08", "RA-09", "RA-15"}


def test_expected_minus_billed_is_explained_by_the_findings_to_the_last_decimal(assured):
    """Per account and period, expected (the warehouse's rating and charges) minus billed (summed here from the
    billing system's exported CSV lines with Decimal) equals the billing findings' expected - billed."""
    paths = assured.paths
    billed: dict[tuple, Decimal] = defaultdict(Decimal)
    for path in sorted(paths.landing.glob("billing_export/*/invoice_lines.csv")):
        with path.open(newline="") as handle:
            for line in csv.DictReader(handle):
                if line["line_type"] == "discount":  # list charges: a promotion's discount is RA-26's
                    continue
                billed[line["account_id"], date.fromisoformat(line["billing_period"])] += Decimal(line["amount"])
    expected: dict[tuple, Decimal] = defaultdict(Decimal)
    for table in ("int_ra_usage_reconciled", "int_ra_charges_reconciled"):
        for account, period, amount in query(
            paths, f"select account_id, billing_period, expected_amount from intermediate.{table} "
            "where expected_amount is not null",
        ):  # fmt: skip
            expected[account, period] += amount
    explained: dict[tuple, Decimal] = defaultdict(Decimal)
    marks = ", ".join("?" for _ in BILLING_CONTROLS)
    for account, period, gap in query(
        paths,
        f"""select account_id, billing_period, coalesce(expected_amount, 0) - billed_amount
            from marts.fct_leakage_findings where control_id in ({marks})""",
        list(BILLING_CONTROLS),
    ):
        explained[account, period] += gap
    assert billed and expected and any(explained.values())
    for key in set(billed) | set(expected):
        assert expected[key] - billed[key] == explained[key], key
    reconciled = query(
        paths, "select account_id, billing_period, billed, unexplained from marts.rpt_revenue_reconciliation"
    )
    assert set(billed) <= {(a, p) for a, p, *_ in reconciled}
    assert all(b == billed[a, p] and u == 0 for a, p, b, u in reconciled)


def test_billing_after_cancellation_is_valued_at_the_hand_prorated_charge(assured):
    """A subscription cancelled mid-month and billed for the whole month: the finding expects quantity x price x
    active days / days in the month (half-up to the cent), worked out here from the landed CRM and catalog."""
    paths = assured.paths

    def rows(entity: str) -> list[dict]:
        out = []
        for path in sorted(paths.landing.glob(f"*/*/{entity}.csv")):
            with path.open(newline="") as handle:
                out += list(csv.DictReader(handle))
        return out

    subscriptions = {row["subscription_id"]: row for row in rows("subscriptions")}  # later deliveries win
    currency = {row["account_id"]: row["currency"] for row in rows("accounts")}
    prices = {(row["product_id"], row["currency"]): Decimal(row["unit_price"]) for row in rows("prices")}
    with (paths.ground_truth / "leakage.csv").open(newline="") as handle:
        leaks = [r for r in csv.DictReader(handle) if r["kind"] == "billed_after_cancellation"]
    checked = 0
    for leak in leaks:
        sub = subscriptions[leak["subscription_id"]]
        period = date.fromisoformat(leak["billing_period"])
        end = date.fromisoformat(sub["end_date"])
        if not period <= end < (period + timedelta(days=32)).replace(day=1):
            continue  # a month after the cancellation: expected nothing
        following = (period + timedelta(days=32)).replace(day=1)
        start = max(date.fromisoformat(sub["start_date"]), period)
        monthly = int(sub["quantity"]) * prices[sub["product_id"], currency[sub["account_id"]]]
        by_hand = half_up(monthly * (end - start).days / (following - period).days)
        ((expected, billed, leakage, direction),) = query(
            paths,
            """select expected_amount, billed_amount, leakage_amount, direction from marts.fct_leakage_findings
               where finding_type = 'billed_after_cancellation' and subject = ? and billing_period = ?""",
            [leak["subscription_id"], period],
        )
        assert expected == by_hand and billed == half_up(monthly * (following - start).days / (following - period).days)
        assert (leakage, direction) == (billed - by_hand, "over_billing")
        checked += 1
    assert checked


def test_late_calls_after_close_are_found_billed_as_adjustments(assured):
    """Every call that arrived after its month closed is an RA-10 finding with no leakage: billed as an
    adjustment on a later invoice (October's, closed by now)."""
    paths = assured.paths
    late = sorted(assured.stages["late_billed"]["late_calls"])
    assert late
    found = query(
        paths,
        "select subject, leakage_amount, direction from marts.fct_leakage_findings where control_id = 'RA-10' "
        "order by subject",
    )
    assert [s for s, *_ in found] == late
    assert {(amount, direction) for _, amount, direction in found} == {(Decimal(0), "none")}


def test_findings_keep_their_ids_and_cases_keep_the_analysts_work_across_pipeline_runs(assured):
    """A second pipeline run (re-billing and the controls) changes no finding, not even its first-seen day,
    opens no case, and leaves the analysts' owners, statuses, notes and recovered amounts as they were."""
    from orchestration.assurance import cases

    stage = assured.stages["assured"]
    first, second = stage["findings"]
    assert first == second and len(first) > 100
    cases_first, cases_second = stage["cases"]
    assert [c.case_id for c in cases_first] == [c.case_id for c in cases_second]
    for case_id, before in stage["worked"].items():
        after = cases.get_case(assured.paths.cases, case_id)
        assert after.case == before.case
        assert after.events == before.events  # the run wrote nothing into the history
        assert {f.finding_id for f in after.findings} == {f.finding_id for f in before.findings}
    recovered = next(d for d in stage["worked"].values() if d.case.status == "recovered")
    assert recovered.case.owner == "alice" and recovered.case.recovered_amount == recovered.case.leakage_amount
    with pytest.raises(cases.CaseError, match="recovered"):
        cases.move(assured.paths.cases, recovered.case.case_id, "investigating", "alice")


def test_leakage_report_from_the_command_line(assured, capsys, tmp_path):
    """`tollhouse report leakage` prints the KPIs, areas, coverage and top cases; writes CSV and HTML; refuses
    a period not under assurance with the periods it knows."""
    assert main(["report", "leakage", "--period", "2026-08"]) == 0
    text = capsys.readouterr().out
    assert "Revenue leakage report 2026-08" in text and "Top " in text and "evidence calls:" in text
    assert "NOT COVERED" not in text
    out = tmp_path / "report.html"
    assert main(["report", "leakage", "--period", "2026-08", "--format", "html", "--out", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>") and "<svg" in out.read_text()
    assert f"wrote {out}" in capsys.readouterr().out
    assert main(["report", "leakage", "--period", "2026-08", "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["section"] for r in table} == {"area_type", "case"}
    assert main(["report", "leakage", "--period", "2027-01"]) == 2
    assert "2027-01 is not under assurance (periods the billing system exported: 2026-08, 2026-09)" in (
        capsys.readouterr().out
    )
