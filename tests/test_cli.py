"""The `tollhouse` command line: help on every subcommand, clear errors for bad arguments."""

from __future__ import annotations

import pytest

from orchestration.cli import build_parser, main

SUBCOMMANDS = ["simulate", "load", "summary", "demo"]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tollhouse {command}")
    assert "--help" in out


def test_top_level_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in SUBCOMMANDS)


def test_bad_dates_are_refused_with_a_message(capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["load", "--from", "2026-13-01"])
    assert done.value.code == 2
    assert "expected a date YYYY-MM-DD, got '2026-13-01'" in capsys.readouterr().err


def test_summary_without_a_warehouse_says_what_to_do(paths, capsys):
    assert main(["summary"]) == 1
    assert "run `tollhouse load` first" in capsys.readouterr().out


def test_simulate_then_summary_of_a_load(paths, capsys):
    simulate = ["simulate", "--accounts", "12", "--calls-per-day", "200", "--fraud", "none", "--out", str(paths.data)]
    assert main(simulate) == 0
    out = capsys.readouterr().out
    assert "simulated 6,200 calls" in out and "injected faults" in out
    assert main(["load", "--source", "asterisk", "--from", "2026-10-01", "--to", "2026-10-02"]) == 0
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "asterisk" in out and "Ingestion (raw layer)" in out


def test_simulate_refuses_an_impossible_config(paths, capsys):
    assert main(["simulate", "--start", "2026-10-15", "--out", str(paths.data)]) == 2
    assert "start must be the first day of a month" in capsys.readouterr().out
