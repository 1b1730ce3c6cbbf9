"""The demo-operator simulator: deterministic to the byte, and every injected fault really is in the
landing files where the ground truth says it is."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from orchestration.billing.ids import invoice_number
from orchestration.ingestion.layouts import match_layout
from tools.simulator import SimulationConfig, simulate
from tools.simulator.payments import PAYMENT_KINDS

SMALL = {"seed": 5, "accounts": 12, "calls_per_day": 1000}
SWITCH_ZONES = {"asterisk": "Europe/London", "freeswitch": "Europe/Berlin"}


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    simulate(SimulationConfig(out=out, **SMALL))
    return out


@pytest.fixture(scope="module")
def injections(world) -> list[dict]:
    with open(world / "ground_truth" / "injections.csv", newline="") as f:
        return list(csv.DictReader(f))


def read_text(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.name.endswith(".gz") else raw


def line_at(world: Path, injection: dict) -> bytes:
    return read_text(world / "landing" / injection["file"]).split(b"\n")[int(injection["line_no"]) - 1]


def file_width(world: Path, injection: dict) -> int:
    """The column count of the file's good lines (its layout variant): the injected line itself left out, which
    in a night hour's file of a few lines could otherwise tie with them."""
    lines = read_text(world / "landing" / injection["file"]).decode("utf-8", "replace").splitlines()
    others = [line for n, line in enumerate(lines[:50], start=1) if line.strip() and n != int(injection["line_no"])]
    counts = [len(r) for r in csv.reader(others)]
    return max(set(counts), key=counts.count)


def strict_fields(line: bytes) -> list[str] | None:
    """The CSV fields of one line, or None when it is not valid CSV."""
    try:
        return next(csv.reader([line.decode("utf-8")], strict=True))
    except (csv.Error, UnicodeDecodeError):
        return None


def of_kind(injections: list[dict], kind: str) -> list[dict]:
    found = [i for i in injections if i["kind"] == kind]
    assert found, f"no {kind} injected"
    return found


def test_same_seed_same_bytes_other_seed_other_bytes(world, tmp_path):
    first, second, other = world, tmp_path / "b", tmp_path / "c"  # the module's world is the first run
    simulate(SimulationConfig(out=second, **SMALL))
    simulate(SimulationConfig(out=other, **{**SMALL, "seed": 6}))
    assert tree_digest(first) == tree_digest(second)
    assert tree_digest(first) != tree_digest(other)
    assert len(tree_digest(first)) > 500  # hourly files of three switches for a month, and reference data


def test_world_shape(world):
    truth = duckdb.connect()
    fraud_calls = truth.execute(
        f"select count(*) from '{world}/ground_truth/calls.parquet' where fraud_incident_id is not null"
    ).fetchone()[0]
    assert fraud_calls > 0
    calls = truth.execute(
        f"select count(*), count(distinct account_id), count(distinct source), "
        f"count(*) filter (where answer_at is null), max(billable_seconds) "
        f"from '{world}/ground_truth/calls.parquet'"
    ).fetchone()
    assert calls[0] == 31 * SMALL["calls_per_day"] + fraud_calls  # the traffic asked for, and the fraud added to it
    assert calls[1] >= 10 and calls[2] == 3
    assert 0.1 < calls[3] / calls[0] < 0.5  # unanswered and busy calls
    assert calls[4] > 3600  # some calls over an hour
    accounts = truth.execute(
        f"select count(distinct country_code), count(distinct currency) "
        f"from read_csv('{world}/landing/crm/2026-10-01/accounts.csv')"
    ).fetchone()
    assert accounts == (3, 3)
    gz = list((world / "landing").rglob("*.csv.gz"))
    assert gz and all(match_layout(p.parts[-3], p.name) for p in gz)


@pytest.mark.parametrize("kind", ["malformed_line", "truncated_line", "unescaped_quote"])
def test_bad_lines_are_not_valid_records(world, injections, kind):
    for injection in of_kind(injections, kind):
        fields = strict_fields(line_at(world, injection))
        assert fields is None or len(fields) != file_width(world, injection), injection


def test_encoding_errors_are_invalid_utf8_and_blank_lines_blank(world, injections):
    for injection in of_kind(injections, "encoding_error"):
        with pytest.raises(UnicodeDecodeError):
            line_at(world, injection).decode("utf-8")
    for injection in of_kind(injections, "blank_line"):
        assert line_at(world, injection).strip() == b""


def test_unreadable_files(world, injections):
    for injection in of_kind(injections, "corrupt_gzip"):
        with pytest.raises((OSError, EOFError, zlib.error)):
            gzip.decompress((world / "landing" / injection["file"]).read_bytes())
    for injection in of_kind(injections, "unknown_layout"):
        first_line = read_text(world / "landing" / injection["file"]).split(b"\n")[0]
        fields = strict_fields(first_line) or []
        assert len(fields) <= 1 or fields[0].lower() != "record_id"


def test_redelivered_and_late_files(world, injections):
    for injection in of_kind(injections, "redelivered_file"):
        copy = world / "landing" / injection["file"]
        originals = [p for p in copy.parent.parent.glob(f"*/{copy.name}") if p != copy]
        assert any(p.read_bytes() == copy.read_bytes() and p.parent.name < copy.parent.name for p in originals)
    late_after_close = 0
    for injection in of_kind(injections, "late_file"):
        path = Path(injection["file"])
        delivered = date.fromisoformat(path.parts[1])
        written = datetime.strptime(path.name.split("_")[1][:9], "%Y%m%dT").date()
        assert (delivered - written).days >= 2
        late_after_close += (delivered.year, delivered.month) > (written.year, written.month)
    assert late_after_close >= 1  # at least one arrives after its billing period closed


def test_duplicates_carry_the_same_or_a_new_record_key(world, injections):
    by_source: dict[str, bytes] = {}
    for injection in of_kind(injections, "backend_duplicate") + of_kind(injections, "near_duplicate"):
        source = injection["source"]
        if source not in by_source:
            by_source[source] = b"\n".join(read_text(p) for p in sorted((world / "landing" / source).rglob("*.csv*"))
                                           if not _unreadable(p))  # fmt: skip
        key = injection["record_key"].encode()
        assert key in line_at(world, injection)
        occurrences = by_source[source].count(key)
        expected = 2 if injection["kind"] == "backend_duplicate" else 1  # a near-duplicate has a new id
        assert occurrences >= expected, injection


def _unreadable(path: Path) -> bool:
    try:
        read_text(path)
    except (OSError, EOFError, zlib.error):
        return True
    return False


def test_clock_skew_is_reported_by_the_noc(world, injections):
    corrections = list((world / "landing" / "network").rglob("clock_corrections.csv"))
    rows = [r for p in corrections for r in csv.DictReader(p.open())]
    skewed = of_kind(injections, "clock_skew")
    switches = {Path(i["file"]).name.split("_")[0] for i in skewed}
    assert switches <= {r["switch_id"] for r in rows}
    assert {r["offset_seconds"] for r in rows} == {"3600"}


def test_dst_ambiguous_calls_start_in_the_repeated_local_hour(world, injections):
    for injection in of_kind(injections, "dst_ambiguous"):
        zone = ZoneInfo(SWITCH_ZONES[injection["source"]])
        fields = strict_fields(line_at(world, injection))
        assert fields is not None
        start = fields[9] if injection["source"] == "asterisk" else fields[4]
        local = datetime.fromisoformat(start)
        # a local time is ambiguous when its two readings (fold 0 and 1) are different instants
        assert local.replace(tzinfo=zone, fold=0).utcoffset() != local.replace(tzinfo=zone, fold=1).utcoffset(), start


def test_unknown_and_late_assigned_trunks(world, injections):
    crm = sorted((world / "landing" / "crm").glob("*/service_assignments.csv"))
    first_delivery = crm[0].read_text()
    later = "".join(p.read_text() for p in crm[1:])
    for injection in of_kind(injections, "unknown_trunk"):
        trunk = injection["detail"].split()[1]
        assert trunk not in first_delivery and trunk not in later, injection
    for injection in of_kind(injections, "late_assignment"):
        trunk = injection["detail"].split()[1]
        assert trunk not in first_delivery and trunk in later, injection


def test_missing_destinations_match_no_customer_rate(world, injections):
    con = duckdb.connect()
    prefixes = {r[0] for r in con.execute(
        f"select distinct prefix from read_csv('{world}/landing/catalog/*/rates.csv', all_varchar=true)"
    ).fetchall()}  # fmt: skip
    calls = {str(r[0]): r[1] for r in con.execute(
        f"select call_id, b_number from '{world}/ground_truth/calls.parquet'"
    ).fetchall()}  # fmt: skip
    for injection in of_kind(injections, "missing_destination"):
        number = calls[injection["call_id"]]
        assert not any(number.startswith(p) for p in prefixes), injection


def test_payments_land_after_the_period_as_the_ground_truth_says(world):
    assert invoice_number("ACC-0007", date(2026, 10, 15)) == "INV-202610-ACC-0007"
    landing = world / "landing"
    days = sorted(p.name for p in (landing / "payments").iterdir())
    fx_days = sorted(p.name for p in (landing / "fx").iterdir())  # FX covers every delivery day
    assert days == [d for d in fx_days if d >= "2026-11-02"]  # the invoice is issued on the 1st; header-only days
    files = {d: list(csv.DictReader((landing / "payments" / d / "payments.csv").open())) for d in days}
    for d in days:
        assert match_layout("payments", "payments.csv").columns == tuple(
            (landing / "payments" / d / "payments.csv").read_text().splitlines()[0].split(",")
        )
    with open(world / "ground_truth" / "payments.csv", newline="") as f:
        truth = list(csv.DictReader(f))
    accounts = {r["account_id"] for r in csv.DictReader((landing / "crm" / "2026-10-01" / "accounts.csv").open())}
    assert accounts <= {r["account_id"] for r in truth}  # every account owes October's invoice
    kinds = Counter(r["kind"] for r in truth)
    assert set(kinds) == set(PAYMENT_KINDS) and kinds["payment_full"] > len(truth) / 2
    landed = sum(len(rows) for rows in files.values())
    assert landed == len(truth) - kinds["payment_missing"]
    for row in truth:
        assert row["billing_period"] == "2026-10-01"
        assert row["invoice_number"] == invoice_number(row["account_id"], date(2026, 10, 1))
        if row["kind"] == "payment_missing":
            assert row["payment_id"] == row["file"] == row["amount"] == ""
            continue
        day = Path(row["file"]).parts[1]
        paid = files[day][int(row["line_no"]) - 2]  # line 1 is the header
        assert (paid["payment_id"], paid["account_id"], paid["amount"], paid["received_date"]) == (
            row["payment_id"], row["account_id"], row["amount"], day
        )  # fmt: skip
        assert paid["currency"] == row["currency"] and paid["method"]
        assert paid["invoice_number"] == ("" if row["kind"] == "payment_on_account" else row["invoice_number"])
        share = Decimal(row["amount"]) / Decimal(row["invoiced_amount"])
        assert (0.35 < share < 0.65) if row["kind"] == "payment_partial" else share == 1, row


def test_the_billing_system_export_adds_up_and_carries_each_leak_as_the_ground_truth_says(world):
    """The billing system of record's invoices: each header's net is its lines per charge type rounded to the
    cent, total = net + tax; an unbilled call is on no line, a duplicated one on two, a zero-rated one at 0,
    a wrong-rate or wrong-plan one at the billed amount the ground truth records; a subscription month never
    billed has no line, and a cancelled one is billed at the recorded amount."""
    landing = world / "landing" / "billing_export"
    (day,) = [d.name for d in landing.iterdir()]  # one month simulated: one export, on the 1st after it
    assert day == "2026-11-01"
    with open(landing / day / "invoices.csv", newline="") as f:
        headers = {r["invoice_number"]: r for r in csv.DictReader(f)}
    with open(landing / day / "invoice_lines.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    by_type: dict[tuple, Decimal] = defaultdict(Decimal)
    for line in lines:
        by_type[line["invoice_number"], line["line_type"]] += Decimal(line["amount"])
    for number, header in headers.items():
        net = sum(
            (v.quantize(Decimal("0.01"), ROUND_HALF_UP) for (n, _), v in by_type.items() if n == number), Decimal(0)
        )
        assert Decimal(header["net_amount"]) == net, number
        assert Decimal(header["total_amount"]) == Decimal(header["net_amount"]) + Decimal(header["tax_amount"])
    usage = defaultdict(list)
    charges = defaultdict(list)
    for line in lines:
        if line["line_type"] == "usage":
            usage[line["source"], line["record_key"]].append(line)
        else:
            charges[line["subscription_id"], line["billing_period"]].append(line)
    with open(world / "ground_truth" / "leakage.csv", newline="") as f:
        leaks = list(csv.DictReader(f))
    assert {r["kind"] for r in leaks} >= {"unbilled_call", "wrong_rate", "zero_rated", "duplicate_line",
                                          "wrong_plan", "subscription_not_billed"}  # fmt: skip
    for leak in leaks:
        billed = Decimal(leak["billed_amount"])
        assert Decimal(leak["leakage_amount"]) == abs(Decimal(leak["expected_amount"]) - billed), leak
        if leak["record_key"]:
            found = usage[leak["source"], leak["record_key"]]
            match leak["kind"]:
                case "unbilled_call":
                    assert found == [], leak
                case "duplicate_line":
                    assert len(found) == 2 and sum(Decimal(x["amount"]) for x in found) == billed, leak
                case _:
                    assert len(found) == 1 and Decimal(found[0]["amount"]) == billed, leak
            if leak["kind"] == "wrong_plan":
                assert found[0]["rate_plan_id"] == "GB-SEC-GBP"
        else:
            found = charges[leak["subscription_id"], leak["billing_period"]]
            assert sum((Decimal(x["amount"]) for x in found), Decimal(0)) == billed, leak
            assert (found == []) == (leak["kind"] == "subscription_not_billed"), leak


def test_the_billing_system_export_is_written_as_pythons_csv_module_writes_it(world):
    """DuckDB writes the export (one line per billed call): every file must be byte for byte what Python's csv
    module writes for the same fields, so empty fields are bare (not `""`) and only values that need it are
    quoted."""
    for path in sorted((world / "landing" / "billing_export").rglob("*.csv")):
        data = path.read_bytes()
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        assert len(rows) > 1, path
        again = io.StringIO()
        csv.writer(again, lineterminator="\n").writerows(rows)
        assert again.getvalue().encode("utf-8") == data, path


def test_the_simulator_records_every_incident_and_its_calls(world):
    # the module's world: seed 5, 12 accounts, 1,000 calls a day, the training mix of fraud kinds
    truth = duckdb.connect()
    incidents = truth.execute(
        f"select incident_id, kind, calls from read_csv('{world}/ground_truth/fraud_incidents.csv')"
    ).fetchall()
    kinds = {kind for _, kind, _ in incidents}
    assert kinds == {"irsf", "pbx_hacking", "wangiri_callback", "traffic_pumping", "subscription_fraud"}
    counted = dict(
        truth.execute(
            f"select fraud_incident_id, count(*) from '{world}/ground_truth/calls.parquet' "
            "where fraud_incident_id is not null group by 1"
        ).fetchall()
    )
    assert counted == {incident: calls for incident, _, calls in incidents}
    # IRSF goes to the seed's high-risk ranges; ordinary customers call them too, rarely and to a few numbers
    seed = "dbt_project/seeds/fraud_high_risk_ranges.csv"
    ranges = [r[0] for r in truth.execute(f"select prefix::varchar from '{seed}'").fetchall()]
    hot = " or ".join(f"starts_with(b_number, '{p}')" for p in ranges)
    calls = f"'{world}/ground_truth/calls.parquet'"
    irsf = truth.execute(
        f"select count(*) filter (where {hot}), count(*) from {calls} c "
        f"join read_csv('{world}/ground_truth/fraud_incidents.csv') i on i.incident_id = c.fraud_incident_id "
        "where i.kind = 'irsf'"
    ).fetchone()
    assert irsf[0] == irsf[1] > 0
    ordinary, international, most_numbers = truth.execute(
        f"select count(*) filter (where {hot}), count(*) filter (where call_type = 'international' or ({hot})), "
        f"(select max(n) from (select count(distinct b_number) n from {calls} "
        f"where fraud_incident_id is null and ({hot}) group by account_id)) "
        f"from {calls} where fraud_incident_id is null"
    ).fetchone()
    assert 0 < ordinary < 0.01 * international and most_numbers <= 3
