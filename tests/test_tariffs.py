"""Rate-deck versions (docs/rating.md, "Managing tariffs"): upload with the rating rules' messages, diff,
preview on a month of traffic, maker-checker approval, publication into the landing area the pipeline reads,
the `tollhouse tariff` command and the Tariffs page.

Every expected amount is worked out by hand in the comment beside it. The deck: plan P in GBP, half-up to 4
decimals, per started minute (60/60), one band all week; Berlin (4930) at 0.0500 a minute, London (4420) at
0.0200. The new version puts Berlin up by 0.01 to 0.0600.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards import users
from orchestration.rating import decks, what_if
from orchestration.settings import Paths
from orchestration.warehouse import migrate
from tests.browser import ARTIFACTS, CHROMIUM_FLAGS, browser_sign_in, chromium, serve_app, settle
from tests.test_rating_cases import all_week, plan_row, rate_row, write_tariff

pytestmark = pytest.mark.integration
TOLLHOUSE = Path(sys.executable).parent / "tollhouse"
NOV = date(2026, 11, 1)
D = Decimal


def deck(folder: Path, berlin: str = "0.0500", *, extra: list[str] | None = None, bad: bool = False) -> Path:
    rates = [
        rate_row("P", "4930", berlin, destination="Germany Berlin", valid_from="2026-01-01"),
        rate_row("P", "4420", "0.0200", destination="UK London", valid_from="2026-01-01"),
        *(extra or []),
    ]
    if bad:  # two broken rules: a prefix with a letter, a negative rate
        rates += [rate_row("P", "44X", "0.0100"), rate_row("P", "4931", "-0.0100")]
    return write_tariff(folder, plans=[plan_row("P")], rates=rates, bands=all_week("P"))


def baseline(paths: Paths, tmp_path: Path) -> None:
    """The deck as the operator delivered it in October: what the pipeline has before any upload."""
    source = deck(tmp_path / "baseline")
    folder = paths.landing / "catalog" / "2026-10-01"
    folder.mkdir(parents=True)
    for name in ("rate_plans.csv", "rates.csv", "time_bands.csv", "holidays.csv"):
        (folder / name).write_bytes((source / name).read_bytes())


def traffic(rows: list[tuple[str, str, str, int, str]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"call_id": c, "b_number": b, "answer_at": a, "billable_seconds": s, "other_amount": D(o)}
            for c, b, a, s, o in rows
        ]
    )


# calls of October: (call_id, b_number, answer_at, billable seconds, vendor cost in GBP)
OCTOBER = [
    ("c1", "4930123456", "2026-10-05T12:00:00+01:00", 120, "0.03"),  # Berlin, 2 min
    ("c2", "4930999", "2026-10-06T12:00:00+01:00", 61, "0.02"),  # Berlin, 61 s -> 2 min
    ("c3", "49301", "2026-10-07T12:00:00+01:00", 30, "0.01"),  # Berlin, 30 s -> 1 min
    ("c4", "44207946", "2026-10-08T12:00:00+01:00", 90, "0.015"),  # London, 90 s -> 2 min
]


# ---------------------------------------------------------------------------------------------------------------
# Upload, validation and versions


def test_upload_keeps_each_version_with_who_when_and_its_effective_date(paths, tmp_path):
    first = decks.upload(paths, deck(tmp_path / "v1"), "customer", NOV, "maker")
    second = decks.upload(paths, deck(tmp_path / "v2", "0.0600"), "customer", date(2026, 12, 1), "maker")
    assert (first.rate_plan_id, first.version, first.status, first.uploaded_by) == ("P", 1, "draft", "maker")
    assert (second.version, second.effective_from) == (2, date(2026, 12, 1))
    listed = decks.list_versions(paths, "customer", "P")
    assert [(v.version, v.status, str(v.effective_from)) for v in listed] == [
        (1, "draft", "2026-11-01"),
        (2, "draft", "2026-12-01"),
    ]
    assert decks.files(paths, "customer", "P", 2)["rates"][0]["rate"] == "0.0600"  # kept as uploaded
    assert [(e["version"], e["actor"], e["action"]) for e in decks.history(paths, "customer", "P")] == [
        (1, "maker", "uploaded"),
        (2, "maker", "uploaded"),
    ]


def test_a_broken_deck_is_refused_with_the_rate_commands_own_messages_and_not_kept(paths, tmp_path):
    folder = deck(tmp_path / "bad", bad=True)
    with pytest.raises(decks.DeckError) as refused:
        decks.upload(paths, folder, "customer", NOV, "maker")
    # the same lines `tollhouse rate` prints for this folder: one check behind both
    with pytest.raises(what_if.RatingInputError) as rate_says:
        what_if.rate_calls(folder, _calls_file(tmp_path))
    assert refused.value.problems == rate_says.value.problems
    assert refused.value.problems == [
        "rates.csv:4: bad_prefix: prefix must be 1 to 15 digits (E.164)",  # the header is line 1
        "rates.csv:5: negative_amount: rate, connect_fee and max_cost cannot be negative",
    ]
    assert str(refused.value) == "bad: the deck breaks 2 tariff rule(s)"
    assert decks.list_versions(paths) == []


def _calls_file(tmp_path: Path) -> Path:
    path = tmp_path / "calls.csv"
    path.write_text("call_id,rate_plan_id,b_number,answer_at,billable_seconds\n", encoding="utf-8")
    return path


def test_a_deck_of_two_plans_or_an_unknown_kind_or_no_actor_is_refused_naming_the_field(paths, tmp_path):
    two = write_tariff(
        tmp_path / "two",
        plans=[plan_row("P"), plan_row("Q")],
        rates=[rate_row("P", "44", "0.01"), rate_row("Q", "44", "0.01")],
        bands=all_week("P") + all_week("Q"),
    )
    with pytest.raises(decks.DeckError, match=r"^rate_plans.csv: a deck holds exactly one rate plan, found 2: P, Q$"):
        decks.upload(paths, two, "customer", NOV, "maker")
    with pytest.raises(decks.DeckError, match=r"^kind: expected one of customer, vendor, got 'retail'$"):
        decks.upload(paths, deck(tmp_path / "v1"), "retail", NOV, "maker")
    with pytest.raises(decks.DeckError, match=r"^by: who acts is required"):
        decks.upload(paths, deck(tmp_path / "v1"), "customer", NOV, " ")


# ---------------------------------------------------------------------------------------------------------------
# Diff


def test_diff_lists_prefixes_added_removed_and_repriced_per_band():
    old = [
        _rate("4930", "0.0500", band="peak"),
        _rate("4930", "0.0300", band="offpeak"),
        _rate("4420", "0.0200"),
        _rate("33", "0.0400", valid_to="2026-11-01"),  # ended before the day compared: in neither
    ]
    new = [
        _rate("4930", "0.0600", band="peak"),
        _rate("4930", "0.0300", band="offpeak"),  # unchanged: not listed
        _rate("4477", "0.0900"),
        _rate("4420", "0.0200", increment_s="1"),  # same rate, per second now: a price change
    ]
    changes = decks.diff_rates(old, new, NOV)
    assert [(c.change, c.prefix, c.band, c.old_rate, c.new_rate) for c in changes] == [
        ("price changed", "4420", "*", "0.0200", "0.0200"),
        ("added", "4477", "*", "", "0.0900"),
        ("price changed", "4930", "peak", "0.0500", "0.0600"),
    ]
    assert changes[0].detail == "increment_s 60 -> 1"
    assert changes[2].detail == "rate 0.0500 -> 0.0600"
    gone = decks.diff_rates(new, old, NOV)
    assert [(c.change, c.prefix) for c in gone if c.change != "price changed"] == [("removed", "4477")]


def _rate(prefix: str, rate: str, *, band: str = "*", valid_to: str = "", increment_s: str = "60") -> dict[str, str]:
    return {
        "rate_plan_id": "P", "prefix": prefix, "destination": f"D{prefix}", "band": band, "valid_from": "2026-01-01",
        "valid_to": valid_to, "connect_fee": "0", "group_start_s": "0", "rate": rate, "rate_unit_s": "60",
        "increment_s": increment_s, "max_cost": "",
    }  # fmt: skip


def test_diff_of_two_stored_versions(paths, tmp_path):
    decks.upload(paths, deck(tmp_path / "v1"), "customer", NOV, "maker")
    decks.upload(paths, deck(tmp_path / "v2", "0.0600"), "customer", NOV, "maker")
    changes = decks.diff(paths, "customer", "P", 1, 2)
    assert [(c.change, c.prefix, c.destination, c.old_rate, c.new_rate) for c in changes] == [
        ("price changed", "4930", "Germany Berlin", "0.0500", "0.0600")
    ]


# ---------------------------------------------------------------------------------------------------------------
# Preview


def test_preview_reprices_the_months_traffic_by_destination_to_the_cent(tmp_path):
    current = decks.read_folder(deck(tmp_path / "current"))
    new = decks.read_folder(deck(tmp_path / "new", "0.0600"))
    rows = decks.preview_rows("customer", current, new, NOV, traffic(OCTOBER))
    by = {r["destination"]: r for r in rows}
    # Berlin: 2 + 2 + 1 = 5 minutes; old 5 x 0.05 = 0.25, new 5 x 0.06 = 0.30; vendor cost 0.03 + 0.02 + 0.01
    berlin = by["Germany Berlin"]
    assert berlin["calls"] == 3
    assert (berlin["revenue_old"], berlin["revenue_new"], berlin["revenue_diff"]) == (D("0.25"), D("0.30"), D("0.05"))
    assert (berlin["cost_old"], berlin["cost_new"], berlin["cost_diff"]) == (D("0.06"), D("0.06"), D("0"))
    assert (berlin["margin_old"], berlin["margin_new"], berlin["margin_diff"]) == (D("0.19"), D("0.24"), D("0.05"))
    # London: 2 minutes x 0.02 = 0.04 either way, vendor cost 0.015
    london = by["UK London"]
    assert (london["revenue_old"], london["revenue_new"], london["margin_old"], london["margin_diff"]) == (
        D("0.04"), D("0.04"), D("0.025"), D("0"),
    )  # fmt: skip
    total = by["Total"]
    assert total["calls"] == 4
    assert (total["revenue_old"], total["revenue_new"], total["revenue_diff"]) == (D("0.29"), D("0.34"), D("0.05"))
    assert (total["margin_old"], total["margin_new"]) == (D("0.215"), D("0.265"))
    assert [r["destination"] for r in rows] == ["Germany Berlin", "UK London", "Total"]


def test_preview_of_a_vendor_deck_moves_cost_and_margin(tmp_path):
    current = decks.read_folder(deck(tmp_path / "current"))
    new = decks.read_folder(deck(tmp_path / "new", "0.0600"))
    # the other amount is now what the customer paid for the call
    calls = traffic([(c, b, a, s, "0.50") for c, b, a, s, _ in OCTOBER])
    by = {r["destination"]: r for r in decks.preview_rows("vendor", current, new, NOV, calls)}
    berlin = by["Germany Berlin"]
    # revenue 3 x 0.50 = 1.50; cost 0.25 -> 0.30; margin 1.25 -> 1.20
    assert (berlin["revenue_old"], berlin["cost_old"], berlin["cost_new"]) == (D("1.50"), D("0.25"), D("0.30"))
    assert (berlin["margin_old"], berlin["margin_new"], berlin["margin_diff"]) == (D("1.25"), D("1.20"), D("-0.05"))


# ---------------------------------------------------------------------------------------------------------------
# Approval and publication


def test_the_uploader_cannot_approve_and_only_an_approved_deck_publishes(paths, tmp_path):
    baseline(paths, tmp_path)
    decks.upload(paths, deck(tmp_path / "v1", "0.0600"), "customer", NOV, "maker")
    with pytest.raises(decks.DeckError, match=r"^customer P v1: status is draft; only an approved deck can be"):
        decks.publish(paths, "customer", "P", 1, "checker")
    with pytest.raises(decks.DeckError, match=r"^customer P v1: by 'maker' uploaded it; another person must approve"):
        decks.approve(paths, "customer", "P", 1, "maker")
    approved = decks.approve(paths, "customer", "P", 1, "checker")
    assert (approved.status, approved.approved_by) == ("approved", "checker")
    with pytest.raises(decks.DeckError, match=r"status is approved; only a draft can be approved"):
        decks.approve(paths, "customer", "P", 1, "someone")


def test_upload_preview_approve_publish_and_the_pipelines_rating_reads_the_published_deck(paths, tmp_path):
    baseline(paths, tmp_path)
    version = decks.upload(paths, deck(tmp_path / "v1", "0.0600"), "customer", NOV, "maker")
    assert [(c.prefix, c.old_rate, c.new_rate) for c in decks.diff_rates(
        decks.current_deck(paths, "customer", "P")["rates"], decks.files(paths, "customer", "P", 1)["rates"], NOV
    )] == [("4930", "0.0500", "0.0600")]  # fmt: skip
    decks.approve(paths, "customer", "P", version.version, "checker")
    published = decks.publish(paths, "customer", "P", version.version, "checker")
    assert published.status == "published" and published.published_by == "checker"
    landed = paths.landing / "catalog" / "2026-11-01" / "rates_P_v0001.csv"
    assert published.landed_in == str(landed.parent)
    with landed.open(newline="") as handle:
        rows = [(r["prefix"], r["rate"], r["valid_from"], r["valid_to"]) for r in csv.DictReader(handle)]
    # Berlin's October price ends on the effective date, the new one starts on it; London is untouched
    assert rows == [("4930", "0.0500", "2026-01-01", "2026-11-01"), ("4930", "0.0600", "2026-11-01", "")]
    # the landing area rated as the pipeline rates it (every delivery, the later one winning per version key):
    # a 2-minute Berlin call in October keeps 0.1000, the same call in November costs 0.1200
    calls = pa.Table.from_pylist(
        [
            {"call_id": "oct", "rate_plan_id": "P", "account_id": None, "b_number": "4930123456",
             "answer_at": "2026-10-30T12:00:00+00:00", "billable_seconds": "120"},
            {"call_id": "nov", "rate_plan_id": "P", "account_id": None, "b_number": "4930123456",
             "answer_at": "2026-11-02T12:00:00+00:00", "billable_seconds": "120"},
            {"call_id": "ldn", "rate_plan_id": "P", "account_id": None, "b_number": "44207946",
             "answer_at": "2026-11-02T12:00:00+00:00", "billable_seconds": "120"},
        ]
    )  # fmt: skip
    rated = what_if.rate_against_catalog(paths.landing / "catalog", calls).to_pylist()
    assert [(r["call_id"], r["cost"], r["reason"]) for r in rated] == [
        ("oct", D("0.1"), ""), ("nov", D("0.12"), ""), ("ldn", D("0.04"), ""),
    ]  # fmt: skip
    # the next version is compared with what is published now
    assert decks.current_deck(paths, "customer", "P")["rates"][0]["valid_to"] == "2026-11-01"
    assert [e["action"] for e in decks.history(paths, "customer", "P")] == ["uploaded", "approved", "published"]


def test_publishing_into_a_closed_billing_period_is_refused(paths, tmp_path):
    baseline(paths, tmp_path)
    paths.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        migrate(con)
        con.execute("insert into billing.period_log values ('2026-10-01', 'close', now(), 'finance', null, 0, '{}')")
    decks.upload(paths, deck(tmp_path / "v1", "0.0600"), "customer", date(2026, 10, 15), "maker")
    decks.approve(paths, "customer", "P", 1, "checker")
    with pytest.raises(decks.DeckError) as refused:
        decks.publish(paths, "customer", "P", 1, "checker")
    assert str(refused.value) == (
        "effective_from: 2026-10-15 is in or before the closed billing period 2026-10, whose calls keep their price; "
        "choose 2026-11-01 or later"
    )
    assert not (paths.landing / "catalog" / "2026-10-15").exists()
    assert decks.get(paths, "customer", "P", 1).status == "approved"


def test_a_change_to_an_undated_plan_setting_of_a_published_plan_is_refused(paths, tmp_path):
    baseline(paths, tmp_path)
    folder = write_tariff(
        tmp_path / "v1b",
        plans=[plan_row("P", rounding="up")],
        rates=[rate_row("P", "4930", "0.0500"), rate_row("P", "4420", "0.0200")],
        bands=all_week("P"),
    )
    decks.upload(paths, folder, "customer", NOV, "maker")
    decks.approve(paths, "customer", "P", 1, "checker")
    with pytest.raises(decks.DeckError, match=r"^rate_plans.csv: differs from the published deck; rate plans are not"):
        decks.publish(paths, "customer", "P", 1, "checker")


# ---------------------------------------------------------------------------------------------------------------
# The command line, on a warehouse holding October's rated calls (the columns of marts.fct_rated_calls the
# preview reads, written by hand)


def rated_october(paths: Paths) -> None:
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            """create table marts.fct_rated_calls (call_id varchar, call_date date, start_at timestamp,
               answer_at timestamp, b_number varchar, billable_seconds integer, rate_plan_id varchar,
               currency varchar, cost decimal(18, 6), vendor_rate_plan_id varchar, vendor_currency varchar,
               vendor_cost_in_currency decimal(18, 6))"""
        )
        prices = {"c1": "0.10", "c2": "0.10", "c3": "0.05", "c4": "0.04"}  # at October's deck
        for call_id, b_number, answer_at, seconds, vendor_cost in OCTOBER:
            at = f"{answer_at[:10]} {int(answer_at[11:13]) - 1:02d}{answer_at[13:19]}"  # +01:00 as UTC
            con.execute(
                "insert into marts.fct_rated_calls values (?, ?, ?, ?, ?, ?, 'P', 'GBP', ?, 'V', 'GBP', ?)",
                [call_id, at[:10], at, at, b_number, seconds, prices[call_id], vendor_cost],
            )
        # calls of other plans, one in EUR, and one of November: none is October's traffic of P
        con.execute(
            """insert into marts.fct_rated_calls values
               ('q1', '2026-10-05', '2026-10-05 10:00', '2026-10-05 10:00', '4930123', 600, 'Q', 'GBP', 0.30, 'V',
                'GBP', 0),
               ('e1', '2026-10-05', '2026-10-05 10:00', '2026-10-05 10:00', '4930123', 60, 'PE', 'EUR', 1.00, 'V',
                'GBP', 0),
               ('n1', '2026-11-02', '2026-11-02 10:00', '2026-11-02 10:00', '4930123', 600, 'P', 'GBP', 0.50, 'V',
                'GBP', 0)"""
        )
        con.execute("create schema intermediate")
        con.execute(
            """create table intermediate.int_fx_rates_carried_forward as
               select date '2026-10-05' as rate_day, 'GBP' as base_currency, 'EUR' as quote_currency,
                      1.25::decimal(18, 8) as rate"""
        )


def test_a_vendor_decks_traffic_carries_the_calls_price_in_the_decks_currency(paths):
    rated_october(paths)
    calls = decks.month_traffic(paths, "vendor", "V", date(2026, 10, 1)).to_pylist()
    # e1 was sold for 1.00 EUR; at 1.25 EUR a pound that is 0.80 GBP
    assert [(c["call_id"], c["other_amount"]) for c in calls] == [
        ("c1", D("0.10")), ("c2", D("0.10")), ("c3", D("0.05")), ("c4", D("0.04")), ("e1", D("0.80")),
        ("q1", D("0.30")),
    ]  # fmt: skip


def tollhouse(paths: Paths, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOLLHOUSE), "tariff", *args],
        env={**os.environ, "TOLLHOUSE_DATA_DIR": str(paths.data)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_month_traffic_is_the_plans_calls_of_the_month_in_utc(paths):
    rated_october(paths)
    # the latest call is on 2 November: November is under way, October is the last whole month
    assert decks.last_month(paths) == date(2026, 10, 1)
    calls = decks.month_traffic(paths, "customer", "P", date(2026, 10, 1)).to_pylist()
    assert [(c["call_id"], c["answer_at"], c["billable_seconds"], c["other_amount"]) for c in calls] == [
        ("c1", "2026-10-05T11:00:00+00:00", 120, D("0.03")),
        ("c2", "2026-10-06T11:00:00+00:00", 61, D("0.02")),
        ("c3", "2026-10-07T11:00:00+00:00", 30, D("0.01")),
        ("c4", "2026-10-08T11:00:00+00:00", 90, D("0.015")),
    ]


def test_the_tariff_command_uploads_diffs_previews_approves_publishes_and_lists(paths, tmp_path):
    baseline(paths, tmp_path)
    rated_october(paths)
    new = deck(tmp_path / "v1", "0.0600")
    done = tollhouse(paths, "upload", str(new), "--effective", "2026-11-01", "--by", "maker")
    assert done.returncode == 0, done.stderr
    assert "customer P v1 uploaded by maker, effective from 2026-11-01" in done.stdout
    decks.upload(paths, deck(tmp_path / "v2"), "customer", NOV, "maker")  # the same prices as October's

    done = tollhouse(paths, "diff", "P", "2", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["change", "prefix", "band", "slot", "from", "(s)", "destination", "rate", "v2", "rate",
                                "v1", "what", "changed"]  # fmt: skip
    assert lines[2].split() == ["price", "changed", "4930", "*", "0", "Germany", "Berlin", "0.0500", "0.0600", "rate",
                                "0.0500", "->", "0.0600"]  # fmt: skip
    assert lines[-1] == "[tollhouse] 0 added, 0 removed, 1 price changed"

    done = tollhouse(paths, "preview", "P", "1", "--month", "2026-10")
    assert done.returncode == 0, done.stderr
    rows = {line.split("  ")[0]: line.split() for line in done.stdout.splitlines()[2:-1]}
    # Berlin: 3 calls, revenue 0.25 -> 0.30 (+0.05), cost 0.06, margin 0.19 -> 0.24 (+0.05)
    assert rows["Germany Berlin"][2:] == ["3", "0.25", "0.30", "0.05", "0.06", "0.06", "0.00", "0.19", "0.24", "0.05"]
    assert rows["Total"][1:] == ["4", "0.29", "0.34", "0.05", "0.08", "0.08", "0.00", "0.22", "0.27", "0.05"]

    refused = tollhouse(paths, "approve", "P", "1", "--by", "maker")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert (
        refused.stderr
        == "tollhouse tariff approve: customer P v1: by 'maker' uploaded it; another person must approve it\n"
    )
    assert tollhouse(paths, "approve", "P", "1", "--by", "checker").returncode == 0
    done = tollhouse(paths, "publish", "P", "1", "--by", "checker")
    assert done.returncode == 0, done.stderr
    assert (paths.landing / "catalog" / "2026-11-01" / "rates_P_v0001.csv").is_file()

    done = tollhouse(paths, "list")
    assert done.returncode == 0, done.stderr
    listed = [line.split()[:5] + line.split()[8:] for line in done.stdout.splitlines()[2:-1]]
    assert listed == [
        ["customer", "P", "1", "published", "2026-11-01", "checker", "checker"],
        ["customer", "P", "2", "draft", "2026-11-01", "-", "-"],
    ]
    assert done.stdout.splitlines()[-1] == "[tollhouse] 2 deck version(s)"


def test_the_tariff_command_names_the_field_of_bad_input_in_one_line_and_exits_2(paths, tmp_path):
    done = tollhouse(paths, "upload", str(tmp_path / "nowhere"), "--effective", "2026-11-01", "--by", "maker")
    assert (done.returncode, done.stderr) == (
        2,
        f"tollhouse tariff upload: folder: no such folder '{tmp_path / 'nowhere'}'\n",
    )
    done = tollhouse(paths, "approve", "P", "7", "--by", "checker")
    assert (done.returncode, done.stderr) == (
        2,
        "tollhouse tariff approve: deck: no version 7 of the customer deck 'P'\n",
    )
    done = tollhouse(paths, "upload", str(deck(tmp_path / "bad", bad=True)), "--effective", "2026-11-01", "--by", "m")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "tollhouse tariff upload: bad: the deck breaks 2 tariff rule(s)",
        "  rates.csv:4: bad_prefix: prefix must be 1 to 15 digits (E.164)",
        "  rates.csv:5: negative_amount: rate, connect_fee and max_cost cannot be negative",
    ]
    done = tollhouse(paths, "upload", str(tmp_path), "--effective", "1 Nov", "--by", "maker")
    assert done.returncode == 2 and "expected a date YYYY-MM-DD, got '1 Nov'" in done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------------------------------
# The Tariffs page in Debian's Chromium: `streamlit run` as `make dashboard` starts it, once as the person who
# uploads and once as the one who approves


PASSWORD = "correct horse battery"


def signed_in_as(page, url: str, user: str) -> None:
    """Open the Tariffs page and sign in as `user`, who has the pricing role in the data folder's users file."""
    page.goto(f"{url}/tariffs")
    settle(page)
    browser_sign_in(page, user, PASSWORD)
    page.wait_for_selector("text=Signed in as", timeout=60_000)
    settle(page)


def test_the_tariffs_page_uploads_refuses_a_bad_deck_previews_and_another_person_approves(paths, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    baseline(paths, tmp_path)
    rated_october(paths)
    bad = deck(tmp_path / "bad", bad=True)
    good = deck(tmp_path / "good", "0.0600")
    names = ("rate_plans.csv", "rates.csv", "time_bands.csv", "holidays.csv")
    for user in ("maker", "checker"):
        users.add_user(user, "pricing", PASSWORD, path=paths.data / "dashboards" / "users.toml")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        with serve_app(paths.data) as url:
            signed_in_as(page, url, "maker")
            expect(page.get_by_text("No deck has been uploaded yet.")).to_be_visible()

            page.set_input_files('[data-testid="stFileUploader"] input[type="file"]', [str(bad / n) for n in names])
            page.get_by_role("button", name="Check and upload").click()
            # checking runs the rating rules: wait for their answer rather than race the spinner
            expect(page.get_by_text("The deck was not uploaded: the deck breaks 2 tariff rule(s).")).to_be_visible(
                timeout=120_000
            )
            settle(page)
            problems = page.locator('[data-testid="stTable"]')
            expect(problems).to_contain_text("bad_prefix", timeout=60_000)  # the table follows the message
            rows = problems.locator("table").evaluate(
                "t => [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()))"
            )
            assert rows == [
                ["File", "Line", "Rule", "Message"],
                ["rates.csv", "4", "bad_prefix", "prefix must be 1 to 15 digits (E.164)"],
                ["rates.csv", "5", "negative_amount", "rate, connect_fee and max_cost cannot be negative"],
            ]
            page.screenshot(path=str(ARTIFACTS / "tariffs-refused.png"))
            assert decks.list_versions(paths) == []

            signed_in_as(page, url, "maker")  # a fresh form, as a person starting again (a new session)
            page.set_input_files('[data-testid="stFileUploader"] input[type="file"]', [str(good / n) for n in names])
            page.get_by_role("button", name="Check and upload").click()
            expect(page.get_by_text("customer P v1 uploaded as a draft")).to_be_visible(timeout=120_000)
            settle(page)
            expect(page.get_by_text("0 added, 0 removed, 1 price changed")).to_be_visible(timeout=60_000)

            page.get_by_role("button", name="Preview on last month's traffic").click()
            settle(page)
            expect(page.get_by_text("the calls of October 2026")).to_be_visible(timeout=60_000)
            expect(page.locator('[data-testid="stTable"]')).to_contain_text("Total", timeout=60_000)
            rows = page.locator('[data-testid="stTable"] table').evaluate(
                "t => [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()))"
            )
            assert rows[0][:3] == ["Destination", "Calls", "Revenue now (GBP)"]
            # Berlin: revenue 0.25 -> 0.30, cost 0.06, margin 0.19 -> 0.24; London 0.04, cost 0.015 (shown 0.02)
            # and margin 0.025 (0.03); the totals 0.29 -> 0.34, cost 0.075 (0.08), margin 0.215 -> 0.265
            assert rows[1:] == [
                ["Germany Berlin", "3", "0.25", "0.30", "+0.05", "0.06", "0.06", "0.00", "0.19", "0.24", "+0.05"],
                ["UK London", "1", "0.04", "0.04", "0.00", "0.02", "0.02", "0.00", "0.03", "0.03", "0.00"],
                ["Total", "4", "0.29", "0.34", "+0.05", "0.08", "0.08", "0.00", "0.22", "0.27", "+0.05"],
            ]
            page.screenshot(path=str(ARTIFACTS / "tariffs-preview.png"))
            # the uploader cannot approve their own deck
            expect(page.get_by_role("button", name="Approve")).to_be_disabled()

            page.get_by_role("button", name="Sign out").click()
            signed_in_as(page, url, "checker")
            page.get_by_role("button", name="Approve").click()
            settle(page)
            expect(page.get_by_text("approved by checker")).to_be_visible()
            page.get_by_role("button", name="Publish").click()
            settle(page)
            expect(page.get_by_text("published by checker")).to_be_visible(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "tariffs-published.png"))
        browser.close()
    version = decks.get(paths, "customer", "P", 1)
    assert (version.status, version.uploaded_by, version.approved_by, version.published_by) == (
        "published", "maker", "checker", "checker",
    )  # fmt: skip


def test_a_pipeline_load_after_publishing_reads_the_published_rates_without_a_tariff_error(paths, tmp_path):
    """The landing area loaded through Dagster as the pipeline loads it, then the tariff models dbt builds
    from it (the rating chain's start; a whole daily build costs minutes here for nothing more)."""
    from orchestration.pipeline.runs import load_days
    from orchestration.settings import run_dbt

    baseline(paths, tmp_path)
    decks.upload(paths, deck(tmp_path / "v1", "0.0600"), "customer", NOV, "maker")
    decks.approve(paths, "customer", "P", 1, "checker")
    decks.publish(paths, "customer", "P", 1, "checker")
    assert load_days(paths, date(2026, 10, 1), NOV, sources=["catalog"]).success
    done = run_dbt(paths.data, "run", "--quiet", "--select", "+int_tariff_errors_found")
    assert done.returncode == 0, done.stdout[-3000:]
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rates = con.execute(
            """select prefix, rate, valid_from, valid_to from staging.stg_catalog__rates
               where rate_plan_id = 'P' order by prefix, valid_from"""
        ).fetchall()
        errors = con.execute("select count(*) from intermediate.int_tariff_errors_found").fetchone()[0]
    # London untouched; Berlin at 0.05 through October, 0.06 from 1 November
    assert rates == [
        ("4420", D("0.02"), date(2026, 1, 1), None),
        ("4930", D("0.05"), date(2026, 1, 1), NOV),
        ("4930", D("0.06"), NOV, None),
    ]
    assert errors == 0


# ---------------------------------------------------------------------------------------------------------------
# Publication as a property: whatever the change, the merged deck prices every day before the effective date as
# the current deck did and every day from it as the new one does


PRICES = st.sampled_from(["0.0100", "0.0200", "0.0250", "0.0600"])
KEYS = st.sampled_from([("4930", "*"), ("4420", "*"), ("44", "peak"), ("44", "offpeak"), ("1", "*")])


@settings(max_examples=60, deadline=None)
@given(
    current=st.dictionaries(KEYS, PRICES, min_size=1),
    new=st.dictionaries(KEYS, PRICES, min_size=1),
    effective=st.dates(date(2026, 2, 1), date(2027, 12, 1)),
)
def test_publication_keeps_every_earlier_day_and_brings_the_new_deck_from_the_effective_date(current, new, effective):
    def rows(prices: dict[tuple[str, str], str]) -> list[dict[str, str]]:
        return [_rate(prefix, rate, band=band) for (prefix, band), rate in prices.items()]

    def priced(deck_rows: list[dict[str, str]], day: date) -> dict[tuple[str, ...], str]:
        return {key: D(r["rate"]) for key, r in decks._rates_in_force(deck_rows, day).items()}

    plan = [{"rate_plan_id": "P", "currency": "GBP", "timezone": "Europe/London", "rounding_method": "half_up",
             "rounding_decimals": "4", "band_mode": "split"}]  # fmt: skip
    before = {"rate_plans": plan, "rates": rows(current), "time_bands": [], "holidays": []}
    after = {"rate_plans": plan, "rates": rows(new), "time_bands": [], "holidays": []}
    delivered = decks.publication(before, after, effective)
    merged = decks._merge("rates", before["rates"], delivered["rates"])
    for day in (date(2026, 1, 1), effective - timedelta(days=1)):
        assert priced(merged, day) == priced(before["rates"], day)
    for day in (effective, effective + timedelta(days=40)):
        assert priced(merged, day) == priced(after["rates"], day)
    # nothing unchanged is re-delivered
    unchanged = {k for k in current.keys() & new.keys() if D(current[k]) == D(new[k])}
    assert not {(r["prefix"], r["band"]) for r in delivered["rates"]} & unchanged


def test_a_new_plan_is_published_whole_with_its_rates_from_the_effective_date(paths, tmp_path):
    decks.upload(paths, deck(tmp_path / "v1"), "customer", NOV, "maker")
    decks.approve(paths, "customer", "P", 1, "checker")
    decks.publish(paths, "customer", "P", 1, "checker")
    folder = paths.landing / "catalog" / "2026-11-01"
    # the deck has no holidays: nothing to deliver for them
    assert sorted(f.name for f in folder.iterdir()) == [
        "rate_plans_P_v0001.csv", "rates_P_v0001.csv", "time_bands_P_v0001.csv",
    ]  # fmt: skip
    with (folder / "rates_P_v0001.csv").open(newline="") as handle:
        assert [(r["prefix"], r["valid_from"]) for r in csv.DictReader(handle)] == [
            ("4930", "2026-11-01"), ("4420", "2026-11-01"),
        ]  # fmt: skip
