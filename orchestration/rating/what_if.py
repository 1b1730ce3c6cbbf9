"""`tollhouse rate TARIFF_DIR CALLS.csv`: price a file of calls against a tariff folder (docs/rating.md)
with the warehouse's own rating SQL, on a temporary warehouse. The what-if tool for pricing changes, and the
way anyone can check rating against published cases.

The tariff files are ingested as the catalog source is (so a bad line is caught the same way), the calls
are put where the dbt var `rating_requests: what_if` makes `int_rating_requests_selected` read them, and the rating
models run as dbt compiled them. A tariff that breaks a rule stops the command with each file, line and rule.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa

from orchestration.ingestion.load import ingest_days
from orchestration.settings import DBT_PROJECT_DIR, Paths, run_dbt
from orchestration.warehouse import connect

TARIFF_FILES = ("rate_plans.csv", "rates.csv", "time_bands.csv", "holidays.csv", "plan_assignments.csv")
REQUIRED_TARIFF_FILES = ("rate_plans.csv", "rates.csv", "time_bands.csv")
CALL_COLUMNS = ("call_id", "rate_plan_id", "account_id", "b_number", "answer_at", "billable_seconds")
OUTPUT_COLUMNS = ("call_id", "cost", "currency", "matched_prefix", "reason")
# dbt keeps its parse between runs of this command here, apart from the pipeline's own target folder
WHAT_IF_TARGET = DBT_PROJECT_DIR / "target" / "what_if"


class RatingInputError(Exception):
    """The tariff folder or the calls file cannot be rated; the message names the file, line and rule, and
    `problems` lists each broken rule as `file:line: rule: message` (what the Tariffs page shows)."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


@dataclass(frozen=True)
class RatedCall:
    call_id: str
    cost: str  # the plan's decimals, as a plain decimal; empty when unrated
    currency: str
    matched_prefix: str
    reason: str
    rate_plan_id: str = ""  # the plan that priced it (given, or the account's assignment at the call)


def _land_tariffs(tariff_dir: Path, paths: Paths) -> list[date]:
    missing = [name for name in REQUIRED_TARIFF_FILES if not (tariff_dir / name).is_file()]
    if missing:
        raise RatingInputError(f"{tariff_dir}: missing {', '.join(missing)}", [f"missing {', '.join(missing)}"])
    day = date.today()
    folder = paths.landing / "catalog" / day.isoformat()
    folder.mkdir(parents=True)
    for name in TARIFF_FILES:
        if (tariff_dir / name).is_file():
            shutil.copy(tariff_dir / name, folder / name)
    return [day]


def _land_catalog(catalog_root: Path, paths: Paths) -> list[date]:
    """A landing zone's catalog (<day>/<entity>.csv folders), every delivery as it was delivered."""
    shutil.copytree(catalog_root, paths.landing / "catalog")
    return sorted(date.fromisoformat(d.name) for d in (paths.landing / "catalog").iterdir() if d.is_dir())


def _ingestion_problems(con) -> list[str]:
    return [
        f"{Path(path).name}:{line or '-'}: {reason}"
        for path, line, reason in con.execute(
            """select a.path, r.line_no, r.reason from raw.rejects r join raw.load_audit a using (file_id)
               union all
               select path, null, reason from raw.load_audit where status = 'quarantined'
               order by 1, 2"""
        ).fetchall()
    ]


def _load_calls(con, calls_csv: Path) -> None:
    with calls_csv.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    absent = [c for c in ("call_id", "b_number", "answer_at", "billable_seconds") if c not in header]
    if absent or not {"rate_plan_id", "account_id"} & set(header):
        raise RatingInputError(
            f"{calls_csv.name}:1: the header needs call_id, rate_plan_id or account_id, b_number, answer_at, "
            f"billable_seconds (missing: {', '.join(absent) or 'rate_plan_id or account_id'})"
        )
    columns = ", ".join(f'"{c}"' if c in header else f"null::varchar as {c}" for c in CALL_COLUMNS)
    _store_requests(con, f"select {columns} from read_csv(?, header = true, all_varchar = true)", [str(calls_csv)])
    _refuse_repeated_ids(con, calls_csv.name)


def _load_call_table(con, calls: pa.Table) -> None:
    """Requests already in memory, with the columns of a calls file (CALL_COLUMNS), taken as its text."""
    numbered = calls.select(list(CALL_COLUMNS)).append_column("request_no", pa.array(np.arange(1, len(calls) + 1)))
    con.register("call_table", numbered)
    columns = ", ".join(f"cast({c} as varchar) as {c}" for c in CALL_COLUMNS)
    _store_requests(con, f"select request_no, {columns} from call_table", numbered=True)
    con.unregister("call_table")
    _refuse_repeated_ids(con, "the requests")


def _store_requests(con, select: str, params: list | None = None, numbered: bool = False) -> None:
    """what_if.rating_requests from `select`, numbered in `request_no` by it when `numbered` (a window over
    every row, which numbers them otherwise, runs on one thread)."""
    if not numbered:
        select = f"select row_number() over () as request_no, * from ({select})"
    con.execute("create schema if not exists what_if")
    con.execute(f"create or replace table what_if.rating_requests as {select}", params or [])


def _refuse_repeated_ids(con, name: str) -> None:
    duplicates = con.execute(
        "select call_id from what_if.rating_requests group by 1 having count(*) > 1 order by 1 limit 5"
    ).fetchall()
    if duplicates:
        raise RatingInputError(f"{name}: call_id repeated: {', '.join(d[0] for d in duplicates)}")


def _project_fingerprint() -> str:
    """Changes whenever anything dbt compiles from changes (and with dbt's version)."""
    digest = hashlib.sha256(metadata.version("dbt-core").encode())
    sources = []
    for folder, subfolders, files in os.walk(DBT_PROJECT_DIR):
        # never descend into dbt's output (tens of thousands of files): walking it took seconds a run
        subfolders[:] = [d for d in subfolders if d not in {"target", "logs", "dbt_packages"}]
        sources += [Path(folder, f) for f in files if f.endswith((".sql", ".yml", ".csv"))]
    for path in sorted(sources):
        digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _compiled_rating_models(scratch: Path) -> list[tuple[str, str, str]]:
    """(materialization, relation, SQL) of `int_calls_rated` and every model it is built from, in build
    order, as dbt compiles them with `rating_requests: what_if`. dbt compiles once per version of the
    project (about 6 s); each later run executes the compiled SQL itself in well under a second."""
    fingerprint = _project_fingerprint()
    manifest_path = WHAT_IF_TARGET / fingerprint / "manifest.json"
    if not manifest_path.is_file():
        target = WHAT_IF_TARGET / f"{fingerprint}.{os.getpid()}"
        (scratch / "warehouse").mkdir(parents=True, exist_ok=True)  # dbt opens (creates) the warehouse
        done = run_dbt(
            scratch, "compile", "--quiet", "--select", "+int_calls_rated",
            "--vars", json.dumps({"rating_requests": "what_if"}), target_path=target,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"dbt could not compile the rating models:\n{done.stdout[-4000:]}{done.stderr[-2000:]}")
        try:
            target.rename(WHAT_IF_TARGET / fingerprint)  # atomic: a concurrent run may have won; either is fine
        except OSError:
            shutil.rmtree(target, ignore_errors=True)
    nodes = json.loads(manifest_path.read_text())["nodes"]
    order: list[str] = []

    def visit(unique_id: str) -> None:
        node = nodes[unique_id]
        for parent in node["depends_on"]["nodes"]:
            if parent.startswith("model.") and parent not in order:
                visit(parent)
        if unique_id not in order:
            order.append(unique_id)

    visit("model.tollhouse.int_calls_rated")
    return [(nodes[n]["config"]["materialized"], nodes[n]["relation_name"], nodes[n]["compiled_code"]) for n in order]


def _build_rating_models(con, models: list[tuple[str, str, str]]) -> None:
    for materialized, relation, sql in models:
        con.execute(f"create schema if not exists {relation.rsplit('.', 1)[0]}")
        kind = "view" if materialized == "view" else "table"
        con.execute(f"create or replace {kind} {relation} as {sql}")


# Why a request is `bad_request`, field by field, with the casts rating applies (int_rating_requests_selected)
REQUEST_PROBLEMS = """
    select call_id, concat_ws('; ',
        case when answer_at is null or trim(answer_at) = '' then 'answer_at is empty'
             when try_cast(answer_at as timestamptz) is null
             then format('answer_at {} is not an ISO 8601 time such as 2026-10-05T20:00:00+01:00', to_json(answer_at))
        end,
        case when billable_seconds is null or trim(billable_seconds) = '' then 'billable_seconds is empty'
             when try_cast(billable_seconds as integer) is null
             then format('billable_seconds {} is not a whole number', to_json(billable_seconds))
             when try_cast(billable_seconds as integer) < 0
             then format('billable_seconds {} is negative', to_json(billable_seconds))
        end,
        case when b_number is null or b_number = '' then 'b_number is empty'
             when not regexp_full_match(b_number, '[0-9]{1,15}')
             then format('b_number {} is not 1 to 15 digits (no +, spaces or dashes)', to_json(b_number))
        end) as problem
    from what_if.rating_requests
"""


def _explained(reason: str, problem: str | None) -> str:
    """`bad_request` with the field and why, as `bad_request: b_number "+44 20" is not 1 to 15 digits`."""
    return f"{reason}: {problem}" if reason == "bad_request" and problem else reason


def rate_calls(tariff_dir: Path, calls_csv: Path) -> list[RatedCall]:
    """Every call of `calls_csv` priced against the tariff folder `tariff_dir`, in the file's order; a bad
    request's reason names its field, its value and why."""
    problems: dict[str, str] = {}

    def load(con) -> None:
        _load_calls(con, calls_csv)
        problems.update(con.execute(REQUEST_PROBLEMS).fetchall())

    rows = _rate(lambda paths: _land_tariffs(tariff_dir, paths), load).to_pylist()
    return [
        # the cost column keeps 6 decimals; show the plan's (the dropped digits are zeros: it was rounded)
        RatedCall(
            r["call_id"],
            "" if r["cost"] is None else str(r["cost"].quantize(Decimal(1).scaleb(-r["rounding_decimals"]))),
            r["currency"],
            r["matched_prefix"],
            _explained(r["reason"], problems.get(r["call_id"])),
            r["rate_plan_id"],
        )
        for r in rows
    ]


def rate_against_catalog(catalog_root: Path, calls: pa.Table) -> pa.Table:
    """Every call of `calls` (the columns of a calls file, CALL_COLUMNS) priced against a landed catalog
    (`landing/catalog`: one folder per delivery day, plan assignments included), in the table's order, as a
    table (call_id, cost DECIMAL(18,6) or null, rounding_decimals, currency, matched_prefix, reason,
    rate_plan_id). The simulated billing system prices with it: the published tariff semantics, not a second
    implementation of them."""
    return _rate(lambda paths: _land_catalog(catalog_root, paths), lambda con: _load_call_table(con, calls))


def _rate(land: Callable[[Paths], list[date]], load_calls: Callable) -> pa.Table:
    with tempfile.TemporaryDirectory(prefix="tollhouse-rate-") as tmp:
        paths = Paths(Path(tmp))
        days = land(paths)
        models = _compiled_rating_models(paths.data)
        with connect(paths.warehouse, in_memory=True) as con:  # nothing of it outlives the command
            ingest_days(con, paths.landing, "catalog", days)
            problems = _ingestion_problems(con)
            if problems:
                raise RatingInputError("tariff files could not be read:\n" + "\n".join(problems), problems)
            load_calls(con)
            _build_rating_models(con, models)
            _refuse_broken_tariff(con)
            return con.execute(
                """select q.call_id, r.cost, r.rounding_decimals, coalesce(r.currency, '') as currency,
                          coalesce(r.matched_prefix, '') as matched_prefix, coalesce(r.rating_error, '') as reason,
                          coalesce(r.rate_plan_id, '') as rate_plan_id
                   from what_if.rating_requests q
                   left join intermediate.int_calls_rated r on r.call_id = q.call_id and r.deck = 'customer'
                   order by q.request_no"""
            ).to_arrow_table()


def _refuse_broken_tariff(con) -> None:
    """The tariff rules (int_tariff_errors_found), one `file:line: rule: message` each."""
    errors = [
        f"{name}:{line}: {rule}: {message}"
        for name, line, rule, message in con.execute(
            "select file_name, file_line, rule, message from intermediate.int_tariff_errors_found order by 1, 2, 3"
        ).fetchall()
    ]
    if errors:
        raise RatingInputError("the tariff breaks these rules:\n" + "\n".join(errors), errors)


def validate_tariff(tariff_dir: Path) -> list[str]:
    """What is wrong with a tariff folder, as `tollhouse rate` reports it (`file:line: rule: message`, or a
    missing file, or a file that cannot be read); empty when it rates. The one check behind the command and
    the Tariffs page: the folder is rated with no calls, so every rule runs exactly as it does there."""
    try:
        rate_call_table(tariff_dir, pa.table({c: pa.array([], pa.string()) for c in CALL_COLUMNS}))
    except RatingInputError as error:
        return error.problems
    return []


def rate_call_table(tariff_dir: Path, calls: pa.Table) -> pa.Table:
    """Every call of `calls` (the columns of a calls file, CALL_COLUMNS) priced against a tariff folder, as
    the table `rate_against_catalog` returns. Rate-deck previews price a month of traffic with it."""
    return _rate(lambda paths: _land_tariffs(tariff_dir, paths), lambda con: _load_call_table(con, calls))


def write_rated(calls: list[RatedCall], handle) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    writer.writerows((c.call_id, c.cost, c.currency, c.matched_prefix, c.reason) for c in calls)
