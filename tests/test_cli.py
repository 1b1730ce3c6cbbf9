"""The `tollhouse` command line: help that names every subcommand and option, clear errors for bad arguments,
and the summary's figures for a load worked out by hand."""

from __future__ import annotations

import csv
import re

import pytest

from orchestration.cli import build_parser, main
from tests.conftest import land
from tests.test_ingest import ast
from tests.worlds import data_folder


@pytest.fixture
def paths():
    """The test's data folder on tmpfs: Dagster's SQLite event log syncs on every event."""
    with data_folder("cli") as folder:
        yield folder


# What a user must be able to find in the help, written out here (not read from the parser): a subcommand or
# an option dropped or renamed fails the test.
SUBCOMMANDS = {
    "simulate": ["--seed", "--start", "--months", "--accounts", "--calls-per-day", "--out", "--no-faults",
                 "--deck-prefixes", "--split-bands", "--fraud", "--leakage"],
    "load": ["--from", "--to", "--source", "--full-refresh"],
    "summary": [],
    "recover": [],
    "rate": ["TARIFF_DIR", "CALLS", "--out"],
    "tariff": ["upload", "diff", "preview", "approve", "publish", "list"],
    "backfill": ["--from", "--to"],
    "close": ["--period", "--by", "--reason"],
    "reopen": ["--period", "--reason", "--by"],
    "case": ["list", "show", "assign", "move", "note"],
    "assure": [],
    "fraud": ["train", "score", "alerts", "confirm", "dismiss", "reopen", "show"],
    "report": ["leakage", "score"],
    "demo": ["--seed", "--start", "--accounts", "--calls-per-day", "--skip-simulate"],
}  # fmt: skip


def named(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_subcommand_has_help_naming_each_option(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tollhouse {command}")
    missing = [word for word in SUBCOMMANDS[command] if not named(word, out)]
    assert missing == [], out


def test_top_level_help_lists_every_subcommand_with_a_line_of_its_own(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^    (\w[\w-]*)\s+\S", out, flags=re.MULTILINE)  # `    name  what it does`
    assert listed == list(SUBCOMMANDS), out


def test_an_unknown_subcommand_is_refused_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as done:
        main(["bill"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bill'" in err and all(named(c, err) for c in SUBCOMMANDS), err


def test_bad_dates_are_refused_with_a_message(capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["load", "--from", "2026-13-01"])
    assert done.value.code == 2
    assert "expected a date YYYY-MM-DD, got '2026-13-01'" in capsys.readouterr().err


def test_summary_without_a_warehouse_says_what_to_do(paths, capsys):
    assert main(["summary"]) == 1
    assert "run `tollhouse load` first" in capsys.readouterr().out


def test_simulate_writes_the_calls_it_reports(paths, capsys):
    simulate = ["simulate", "--accounts", "12", "--calls-per-day", "200", "--fraud", "none", "--out", str(paths.data)]
    assert main(simulate) == 0
    out = capsys.readouterr().out
    # 200 calls a day for October's 31 days
    assert re.search(r"simulated 6,200 calls in [\d,]+ files \([\d,]+ injected faults\)", out), out
    with (paths.ground_truth / "injections.csv").open(newline="") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) > 0
    assert {p.name for p in paths.landing.iterdir()} >= {"asterisk", "freeswitch", "carrier", "crm", "network"}


def rows(out: str, heading: str) -> list[list[str]]:
    """The rows of the summary's table under `heading` (after its header and rule), split on white space."""
    lines = out.split(heading, 1)[1].splitlines()[3:]
    return [line.split() for line in lines[: lines.index("")] if line.strip()] if "" in lines else []


def test_summary_of_a_load_shows_its_files_lines_rejects_quarantine_and_mediation(paths, capsys):
    """Day 1: one Asterisk file of two good lines and one that is no CSV record; day 2: a `.gz` that is not
    gzip. No switches reference, so mediation rejects both records as unknown_switch."""
    land(paths, "asterisk", "2026-10-01", "a_20261001T01Z.csv", f"{ast(uid='1')}\n{ast(uid='2')}\nbad\n".encode())
    land(paths, "asterisk", "2026-10-02", "a_20261002T01Z.csv.gz", b"not gzip")
    assert main(["load", "--source", "asterisk", "--from", "2026-10-01", "--to", "2026-10-02"]) == 0
    loaded = capsys.readouterr().out
    assert "check failed: raw/asterisk:no_quarantined_files" in loaded
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    # files 2, re-delivered 0, quarantined 1, lines 3, raw rows 2, rejects 1, exact-parsed 0
    assert rows(out, "Ingestion (raw layer)") == [["asterisk", "2", "0", "1", "3", "2", "1", "0"]]
    assert rows(out, "Rejected lines by reason") == [["asterisk", "unparseable_row", "1"]]
    quarantined = rows(out, "Quarantined or refused files")
    assert [r[:3] for r in quarantined] == [
        ["asterisk/2026-10-02/a_20261002T01Z.csv.gz", "quarantined", "corrupt_gzip:"]
    ]
    # records 2 = calls 0 + partials 0 + duplicates 0 + rejected 2 + suspended 0; unaccounted 0
    assert rows(out, "Mediation (records in") == [["asterisk", "2", "0", "0", "0", "2", "0", "0"]]
    assert rows(out, "Mediation outcomes other than a call") == [["validation", "unknown_switch", "2"]]
    # the margin is read from the snapshot the load published; the ground-truth scorecards only when asked
    version = (paths.serving / "CURRENT").read_text().strip()
    assert f"in the call's currency; published snapshot {version})" in out
    paths.ground_truth.mkdir(parents=True)
    (paths.ground_truth / "injections.csv").write_text("kind,file\n")
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "Simulator's injected faults" not in out
    assert out.endswith(
        "[tollhouse] a simulated operator: `tollhouse summary --truth` adds the scorecards against its ground truth "
        "(slower)\n"
    )


def test_simulate_refuses_an_impossible_config(paths, capsys):
    assert main(["simulate", "--start", "2026-10-15", "--out", str(paths.data)]) == 2
    assert "start must be the first day of a month" in capsys.readouterr().out


# --- what a user types: one line naming the value, exit 2, no traceback -------------------------------------


def refused(argv: list[str], capsys) -> str:
    """The one error line argparse prints for `argv` (after its usage line), having exited with 2."""
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_an_output_file_in_a_missing_folder_gets_its_folder(tmp_path, capsys):
    target = tmp_path / "reports" / "2026" / "leakage.html"
    args = build_parser().parse_args(["report", "leakage", "--period", "2026-10", "--out", str(target)])
    assert args.out == target and target.parent.is_dir() and not target.exists()
    args = build_parser().parse_args(["rate", "tariffs", "calls.csv", "--out", str(tmp_path / "new" / "out.csv")])
    assert (tmp_path / "new").is_dir()

    line = refused(["report", "leakage", "--period", "2026-10", "--out", str(tmp_path)], capsys)
    assert line == f"tollhouse report leakage: error: argument --out: '{tmp_path}' is a folder: give the file " \
                   f"to write, e.g. {tmp_path}/out.csv"  # fmt: skip
    (tmp_path / "a-file").write_text("x")
    line = refused(["rate", "t", "c.csv", "--out", str(tmp_path / "a-file" / "out.csv")], capsys)
    assert line == f"tollhouse rate: error: argument --out: cannot create the folder '{tmp_path / 'a-file'}': " \
                   "File exists"  # fmt: skip


def test_counts_months_and_days_typed_wrong_are_named(capsys):
    assert refused(["fraud", "alerts", "--limit", "-3"], capsys) == (
        "tollhouse fraud alerts: error: argument --limit: expected a whole number 0 or more, got '-3'"
    )
    assert refused(["fraud", "show", "FA-1", "--calls", "ten"], capsys) == (
        "tollhouse fraud show: error: argument --calls: expected a whole number 0 or more, got 'ten'"
    )
    assert refused(["backfill", "--from", "2026-9"], capsys) == (
        "tollhouse backfill: error: argument --from: expected a month YYYY-MM, got '2026-9'"
    )
    assert refused(["close", "--period", "October"], capsys) == (
        "tollhouse close: error: argument --period: expected a month YYYY-MM, got 'October'"
    )


def test_ranges_backwards_or_outside_the_partitions_are_one_line(paths, capsys):
    land(paths, "asterisk", "2026-10-01", "a.csv", b"x\n")
    assert main(["load", "--from", "2026-10-05", "--to", "2026-10-01"]) == 2
    assert capsys.readouterr().out == "[tollhouse] --to 2026-10-01 is before --from 2026-10-05\n"
    assert main(["backfill", "--from", "2026-10", "--to", "2026-09"]) == 2
    assert capsys.readouterr().out == "[tollhouse] --to 2026-09 is before --from 2026-10\n"
    # the tests' partitions start on 2026-01-01 (tests/conftest.py)
    assert main(["load", "--from", "2025-12-31", "--to", "2026-01-01"]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (
        "[tollhouse] cannot load: days 2025-12-31..2026-01-01 are outside the delivery-day partitions "
        f"2026-01-01..{out[-1].split('..')[-1].split()[0]} (set TOLLHOUSE_PARTITIONS_START (or edit "
        "data/dagster/partitions_start) for older data)"
    )
    assert main(["backfill", "--from", "2025-11"]) == 2
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith("[tollhouse] cannot bill: months 2025-11..2025-11 are outside the billing months 2026-01..")
    )


def test_a_bad_rating_request_names_its_field_and_why(tmp_path):
    from tests.test_rating_cases import all_week, plan_row, rate_calls, rate_row, write_tariff

    tariff = write_tariff(tmp_path / "tariff", plans=[plan_row("P")], rates=[rate_row("P", "44", "0.0125")],
                          bands=all_week("P"))  # fmt: skip
    result = rate_calls(
        tmp_path,
        tariff,
        [
            "ok,P,,442079460000,2026-10-05T12:00:00+01:00,60",
            "plus,P,,+44 20 7946 0000,2026-10-05T12:00:00+01:00,60",
            "date,P,,442079460000,05/10/2026 12:00,60",
            "negative,P,,442079460000,2026-10-05T12:00:00+01:00,-5",
            "two,P,,,2026-10-05T12:00:00+01:00,sixty",
        ],
    )
    assert result["ok"] == ("0.0125", "GBP", "44", "")
    assert (
        result["plus"][3] == 'bad_request: b_number "+44 20 7946 0000" is not 1 to 15 digits (no +, spaces or dashes)'
    )
    assert result["date"][3] == (
        'bad_request: answer_at "05/10/2026 12:00" is not an ISO 8601 time such as 2026-10-05T20:00:00+01:00'
    )
    assert result["negative"][3] == 'bad_request: billable_seconds "-5" is negative'
    assert result["two"][3] == 'bad_request: billable_seconds "sixty" is not a whole number; b_number is empty'
