"""The `tollhouse` command line. Every subcommand has --help."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from orchestration.ingestion.layouts import SOURCES
from orchestration.settings import Paths

T = TypeVar("T")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def _month(text: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a month YYYY-MM, got {text!r}") from exc


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"expected an amount like 1234.56, got {text!r}") from exc


def _out_file(text: str) -> Path:
    """A file to write: its folder is created when missing; a folder, or a folder that cannot be made, is
    refused naming it."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder: give the file to write, e.g. {text}/out.csv")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot create the folder {str(path.parent)!r}: {exc.strerror}") from exc
    return path


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number 0 or more, got {text!r}")
    return value


def _say(message: str) -> None:
    print(f"[tollhouse] {message}", flush=True)


def cmd_simulate(args: argparse.Namespace) -> int:
    from tools.simulator import SimulationConfig, simulate

    try:
        config = SimulationConfig(
            seed=args.seed,
            start=args.start,
            months=args.months,
            accounts=args.accounts,
            calls_per_day=args.calls_per_day,
            out=Path(args.out),
            inject_faults=not args.no_faults,
            deck_prefixes=getattr(args, "deck_prefixes", 0),  # simulate only: the demo keeps its own deck
            split_bands=getattr(args, "split_bands", False),
            fraud=getattr(args, "fraud", "training"),
            leakage=getattr(args, "leakage", "training") if not args.no_faults else "none",
        )
    except ValueError as exc:  # the config's own checks say what is wrong
        _say(f"cannot simulate: {exc}")
        return 2
    started = time.perf_counter()
    result = simulate(config, progress=_say)
    _say(
        f"simulated {result.calls:,} calls in {result.files:,} files "
        f"({result.injections:,} injected faults) in {time.perf_counter() - started:.1f}s"
    )
    _say(f"landing: {result.landing_dir}   ground truth: {result.ground_truth_dir}")
    return 0


def _load(paths: Paths, first: date | None, last: date | None, sources: list[str], full_refresh: bool) -> int:
    from orchestration.pipeline.runs import (
        PartitionRangeError,
        build_models,
        failed_check_lines,
        landed_days,
        load_days,
    )

    days = landed_days(paths)
    if not days:
        _say(f"nothing has landed under {paths.landing}")
        return 1
    first, last = first or days[0], last or days[-1]
    if last < first:
        _say(f"--to {last} is before --from {first}")
        return 2
    started = time.perf_counter()
    span = (last - first).days + 1
    what = f"{', '.join(sources)} for delivery days {first}..{last} ({span:,} days)"
    _say(f"loading {what} through Dagster (job daily_load)")
    try:
        loaded = load_days(paths, first, last, sources)
    except PartitionRangeError as error:
        _say(f"cannot load: {error}")
        return 2
    rebuilt = " (rebuilt from every delivered record)" if full_refresh else ""
    _say(f"loaded in {time.perf_counter() - started:.0f}s; mediating delivery days {first}..{last}{rebuilt}: "
         "dbt models and their tests through Dagster")  # fmt: skip
    built = build_models(paths, first, last, full_refresh)
    for check in failed_check_lines(loaded) + failed_check_lines(built):
        _say(f"check failed: {check}")
    _say(f"load and mediation {'done' if loaded.success and built.success else 'failed'} in "
         f"{time.perf_counter() - started:.0f}s")  # fmt: skip
    return 0 if loaded.success and built.success else 1


def cmd_load(args: argparse.Namespace) -> int:
    return _load(Paths.from_env(), args.first, args.last, args.source or list(SOURCES), args.full_refresh)


def _read_warehouse(paths: Paths, read: Callable[[Any], T]) -> T | None:
    """`read(con)` on a read-only connection to the warehouse; None, having said why, when there is no
    warehouse yet or a pipeline run holds it (the one-writer rule, not a failure)."""
    import duckdb

    from orchestration.warehouse import connect

    if not paths.warehouse.exists():
        _say(f"no warehouse at {paths.warehouse}: run `tollhouse load` first")
        return None
    try:
        with connect(paths.warehouse, read_only=True) as con:
            return read(con)
    except duckdb.IOException as exc:
        _say(f"the warehouse is busy (a pipeline run is writing it); try again when it ends ({exc})")
        return None


def cmd_recover(args: argparse.Namespace) -> int:
    from orchestration.pipeline.instance import get_instance, recover_dead_runs

    failed = recover_dead_runs(get_instance(Paths.from_env()))
    _say(f"failed {len(failed)} run(s) whose process was gone: {', '.join(failed)}" if failed else "no dead runs")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from orchestration.reports import run_summary

    paths = Paths.from_env()
    truth = paths.ground_truth if getattr(args, "truth", False) else None
    text = _read_warehouse(
        paths, lambda con: run_summary.render(con, truth, paths.invoices, paths.cases, paths.serving)
    )
    if text is None:
        return 1
    print(text)
    if truth is None and (paths.ground_truth / "injections.csv").exists():
        _say("a simulated operator: `tollhouse summary --truth` adds the scorecards against its ground truth (slower)")
    return 0


def _months(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _billed(result, what: str, started: float | None = None) -> int:
    from orchestration.pipeline.runs import failed_check_lines

    for check in failed_check_lines(result):
        _say(f"check failed: {check}")
    took = f" in {time.perf_counter() - started:.0f}s" if started is not None else ""
    if not result.success:
        _say(f"{what} failed{took}: see the run {result.run_id} ({result.dagster_run.job_name}) in the Dagster UI "
             "(make ui)")  # fmt: skip
    elif took:
        _say(f"{what} done{took} (run {result.run_id}, job {result.dagster_run.job_name})")
    return 0 if result.success else 1


def cmd_backfill(args: argparse.Namespace) -> int:
    from orchestration.pipeline.runs import PartitionRangeError, bill_months

    last = args.last or args.first
    if last < args.first:
        _say(f"--to {last:%Y-%m} is before --from {args.first:%Y-%m}")
        return 2
    _say(f"billing {args.first:%Y-%m}..{last:%Y-%m} through Dagster (job billing_backfill, one run; closed months "
         "stay frozen)")  # fmt: skip
    started = time.perf_counter()
    try:
        result = bill_months(Paths.from_env(), args.first, last)
    except PartitionRangeError as error:
        _say(f"cannot bill: {error}")
        return 2
    return _billed(result, "billing", started)


def cmd_close(args: argparse.Namespace) -> int:
    from orchestration.assurance.cases import CaseError
    from orchestration.pipeline.runs import PartitionRangeError, close_month

    paths = Paths.from_env()
    _say(f"closing {args.period:%Y-%m}: billed, frozen and rendered through Dagster (job monthly_close)")
    started = time.perf_counter()
    try:
        result = close_month(paths, args.period, _actor(args), args.reason or "")
    except (PartitionRangeError, CaseError) as error:
        _say(f"cannot close: {error}")
        return 2
    status = _billed(result, "the close", started)
    if not status:
        _say(f"invoice documents: {paths.invoices / f'{args.period:%Y-%m}'}")
    return status


def cmd_reopen(args: argparse.Namespace) -> int:
    from orchestration.assurance.cases import CaseError
    from orchestration.billing.periods import BillingActError, reopen_period
    from orchestration.warehouse import connect

    warehouse = Paths.from_env().warehouse
    if not warehouse.exists():
        _say(f"no warehouse at {warehouse}: nothing was billed there")
        return 2
    try:
        by = _actor(args)
        with connect(warehouse) as con:
            act = reopen_period(con, args.period, by, args.reason)
    except (BillingActError, CaseError) as error:
        _say(f"cannot re-open {args.period:%Y-%m}: {error}")
        return 2
    _say(f"re-opened {args.period:%Y-%m} ({act.invoices} invoices, totals {act.totals}); logged as {by}")
    return 0


def _operate(paths: Paths) -> int:
    """The operator's month ends on what has landed, from a new warehouse (a closed month of an earlier run
    would stay frozen) and no earlier invoice documents: every delivery day but the last is loaded, the
    finished months are billed and closed, the last day's late files land, the months are billed again with
    them as adjustments, and the revenue-assurance controls run over what the billing system exported."""
    from orchestration.pipeline.runs import bill_months, close_month, landed_days

    for stale in (paths.warehouse, paths.warehouse.with_name(paths.warehouse.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(paths.invoices, ignore_errors=True)
    days = landed_days(paths)
    status = _load(paths, None, days[-2], list(SOURCES), full_refresh=True)
    for month in _months(days[0], days[-2].replace(day=1) - timedelta(days=1)):
        _say(f"closing billing month {month:%Y-%m} (job monthly_close)")
        started = time.perf_counter()
        status |= _billed(close_month(paths, month, "demo", "month-end close"), "the close", started)
    status |= _load(paths, days[-1], days[-1], list(SOURCES), full_refresh=False)
    first, last = days[0].replace(day=1), days[-1].replace(day=1)
    _say(f"billing {first:%Y-%m}..{last:%Y-%m} (job billing_backfill; closed months stay frozen; the open one is a "
         "draft)")  # fmt: skip
    started = time.perf_counter()
    status |= _billed(bill_months(paths, first, last), "billing", started)
    return status | _assure(paths)


def _assure(paths: Paths) -> int:
    from orchestration.pipeline.runs import assure

    _say("revenue assurance: every control over the periods the billing system exported, then the cases "
         "(job revenue_assurance)")  # fmt: skip
    started = time.perf_counter()
    return _billed(assure(paths), "revenue assurance", started)


def cmd_assure(args: argparse.Namespace) -> int:
    return _assure(Paths.from_env())


def _detect_fraud(paths: Paths, train: bool, seed: int = 7) -> int:
    from orchestration.pipeline.runs import detect_fraud_runs

    what = "trained (job fraud_training), then every call scored" if train else "every call scored by the current model"
    _say(f"fraud detection: features and rules over every rated call; the model {what} (job fraud_scoring); "
         "alerts filed")  # fmt: skip
    started, status = time.perf_counter(), 0
    for result in detect_fraud_runs(paths, train, seed):
        status |= _billed(result, result.dagster_run.job_name.replace("_", " "), started)
    return status


def cmd_fraud_run(args: argparse.Namespace) -> int:
    return _detect_fraud(Paths.from_env(), train=args.fraud_command == "train", seed=getattr(args, "seed", 7))


def cmd_fraud_alerts(args: argparse.Namespace) -> int:
    from orchestration.assurance import alert_queue

    alerts = alert_queue.fraud_alerts(Paths.from_env().cases, status=args.status)
    print(f"{'alert':<14} {'account':<10} {'raised (UTC)':<20} {'exposure EUR':>12}  {'status':<10} rules")
    for a in alerts[: args.limit]:
        print(f"{a.alert_id:<14} {a.account_id:<10} {a.raised_at:%Y-%m-%d %H:%M:%S} {a.exposure_eur:>12,.2f}  "
              f"{a.status:<10} {' '.join(a.rules_hit)}")  # fmt: skip
    _say(f"{len(alerts)} alert(s)" + (f", {args.limit} shown" if len(alerts) > args.limit else ""))
    return 0


def cmd_fraud_decide(args: argparse.Namespace) -> int:
    from orchestration.assurance import alert_queue, cases

    decision = {"confirm": "confirmed", "dismiss": "dismissed", "reopen": "open"}[args.fraud_command]
    try:
        alert = alert_queue.decide_alert(Paths.from_env().cases, args.alert_id, decision, _actor(args), args.note)
    except cases.CaseError as error:
        _say(f"fraud {args.fraud_command}: {error}")
        return 2
    _say(f"{alert.alert_id} is {alert.status}: a label for the next training")
    return 0


def cmd_fraud_evaluate(args: argparse.Namespace) -> int:
    from models.fraud import model as model_lib
    from models.fraud.evaluation import evaluate, render_evaluation
    from tools.simulator import SimulationConfig, simulate

    paths, work = Paths.from_env(), Paths(Path(args.work).resolve())
    os.environ["TOLLHOUSE_DATA_DIR"] = str(work.data)  # dbt and Dagster run against the held-out folder
    os.environ["DAGSTER_HOME"] = str(work.dagster_home)
    try:
        model = model_lib.load(Path(args.model) if args.model else model_lib.current(paths.fraud_models))
    except model_lib.ModelFileError as error:
        _say(f"cannot evaluate: {error}")
        return 2
    config = SimulationConfig(seed=args.seed, fraud="holdout", out=work.data, accounts=args.accounts,
                              calls_per_day=args.calls_per_day)  # fmt: skip
    if args.reuse and work.warehouse.exists():  # the same held-out month, loaded before: only detection again
        _say(f"held-out mix: reusing the month loaded in {work.data}")
        work.cases.unlink(missing_ok=True)
    else:
        _say(f"held-out mix: seed {args.seed}, other intensities, hours and accounts, simulated into {work.data}")
        simulate(config, progress=_say)
        for stale in (work.warehouse, work.warehouse.with_name(work.warehouse.name + ".wal"), work.cases):
            stale.unlink(missing_ok=True)
        _load(work, None, None, list(SOURCES), full_refresh=True)
    model_lib.save(model, work.fraud_models)  # the model under test, never one trained on the held-out mix
    if _detect_fraud(work, train=False):
        return 1
    results = _read_warehouse(work, lambda con: evaluate(con, work.ground_truth))
    if results is None:
        return 1
    text = render_evaluation(results, model, config)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    _say(f"wrote {args.out}")
    return 0


def cmd_fraud_show(args: argparse.Namespace) -> int:
    from models.fraud.explain import AlertNotFound, explain_alert
    from orchestration.assurance import alert_queue

    paths = Paths.from_env()
    filed = alert_queue.fraud_alerts(paths.cases, alert_id=args.alert_id) if paths.cases.exists() else []
    try:
        text = _read_warehouse(
            paths, lambda con: explain_alert(con, args.alert_id, args.calls, filed[0] if filed else None)
        )
    except AlertNotFound as error:
        _say(f"fraud show: {error}")
        return 2
    if text is None:
        return 1
    print(text)
    return 0


def cmd_fraud_label_from_truth(args: argparse.Namespace) -> int:
    from models.fraud.evaluation import label_from_truth

    paths = Paths.from_env()
    if not (paths.ground_truth / "fraud_incidents.csv").exists():
        _say(f"no simulation ground truth in {paths.ground_truth}: only a simulated operator can be labelled so")
        return 2
    counts = _read_warehouse(paths, lambda con: label_from_truth(con, paths.cases, paths.ground_truth))
    if counts is None:
        return 1
    _say(f"open alerts decided from the ground truth: {counts[0]} confirmed, {counts[1]} dismissed; "
         "`tollhouse fraud train` learns from them")  # fmt: skip
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    paths = Paths.from_env()
    if not args.skip_simulate:
        args.out, args.no_faults, args.months = str(paths.data), False, 1
        if cmd_simulate(args):
            return 1
    status = _operate(paths)
    status |= _detect_fraud(paths, train=True)
    print()
    args.truth = True  # the demo shows what it found against what the simulator injected
    cmd_summary(args)
    _say(f"invoice documents: {paths.invoices}")
    published = (paths.serving / "CURRENT").read_text().strip() if (paths.serving / "CURRENT").exists() else None
    _say(f"dashboards: snapshot {published} published; `make dashboard` opens it" if published
         else "dashboards: nothing published (a run's checks failed); see the failed checks above")  # fmt: skip
    return status


def cmd_report_leakage(args: argparse.Namespace) -> int:
    from orchestration.reports.leakage import RENDERERS, ReportError, build

    paths = Paths.from_env()
    try:
        report = _read_warehouse(paths, lambda con: build(con, paths.cases, args.period))
    except ReportError as error:
        _say(f"cannot report {args.period:%Y-%m}: {error}")
        return 2
    if report is None:
        return 2
    text = RENDERERS[args.format](report)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        _say(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def cmd_report_score(args: argparse.Namespace) -> int:
    from tools.simulator.assurance_score import score_quarter

    return score_quarter(args, _say, _operate, cmd_simulate)


def cmd_rate(args: argparse.Namespace) -> int:
    from orchestration.rating.what_if import RatingInputError, rate_calls, write_rated

    for path, kind in ((args.tariff_dir, "folder"), (args.calls, "file")):
        if not (path.is_dir() if kind == "folder" else path.is_file()):
            _say(f"{path}: no such {kind}")
            return 2
    try:
        rated = rate_calls(args.tariff_dir, args.calls)
    except RatingInputError as error:
        print(f"tollhouse rate: {error}", file=sys.stderr)
        return 2
    if args.out:
        with args.out.open("w", newline="", encoding="utf-8") as handle:
            write_rated(rated, handle)
        _say(f"rated {sum(1 for c in rated if not c.reason):,} of {len(rated):,} calls into {args.out}")
    else:
        write_rated(rated, sys.stdout)
    return 0


def _actor(args: argparse.Namespace) -> str:
    """Who acts (a case, a close or re-open, a fraud decision): --by, else TOLLHOUSE_USER; never the machine's
    login (a shared service account would sign every analyst's change)."""
    from orchestration.assurance.cases import CaseError

    who = (getattr(args, "by", None) or os.environ.get("TOLLHOUSE_USER") or "").strip()
    if not who:
        raise CaseError("say who you are: --by NAME or TOLLHOUSE_USER")
    return who


def _table_lines(header: list[str] | tuple[str, ...], rows: list, right: set[int] = frozenset()) -> list[str]:
    """Aligned columns under a header and a rule; `right`: the indexes of the columns to right-align (numbers)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(
            str(cell).rjust(w) if i in right else str(cell).ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in [header, ["-" * w for w in widths], *rows]
    ]


def _print_table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> None:
    print("\n".join(_table_lines(header, rows, right)))


def cmd_tariff(args: argparse.Namespace) -> int:
    """Rate-deck versions (docs/rating.md, "Managing tariffs"): each act names its actor with --by."""
    from orchestration.billing.invoices.formatting import format_money
    from orchestration.rating import decks

    paths = Paths.from_env()
    action = args.tariff_command
    try:
        if action == "upload":
            if not args.folder.is_dir():
                raise decks.DeckError(f"folder: no such folder {str(args.folder)!r}")
            v = decks.upload(paths, args.folder, args.kind, args.effective, args.by)
            _say(f"{v.label} uploaded by {v.uploaded_by}, effective from {v.effective_from}: a draft; "
                 "another person approves it")  # fmt: skip
        elif action == "list":
            found = decks.list_versions(paths, args.kind, args.plan)
            _print_table(
                ["kind", "plan", "version", "status", "effective", "uploaded by", "uploaded at (UTC)", "approved by",
                 "published by"],
                [[v.kind, v.rate_plan_id, str(v.version), v.status, str(v.effective_from), v.uploaded_by,
                  f"{v.uploaded_at:%Y-%m-%d %H:%M}", v.approved_by or "-", v.published_by or "-"] for v in found],
                right={2},
            )  # fmt: skip
            _say(f"{len(found):,} deck version(s)")
        elif action == "diff":
            changes = decks.diff(paths, args.kind, args.plan, args.old, args.new)
            _print_table(
                ["change", "prefix", "band", "slot from (s)", "destination", f"rate v{args.old}", f"rate v{args.new}",
                 "what changed"],
                [[c.change, c.prefix, c.band, c.group_start_s, c.destination, c.old_rate or "-", c.new_rate or "-",
                  c.detail or "-"] for c in changes],
                right={3, 5, 6},
            )  # fmt: skip
            counts = {kind: sum(c.change == kind for c in changes) for kind in ("added", "removed", "price changed")}
            _say(", ".join(f"{n:,} {kind}" for kind, n in counts.items()))
        elif action == "preview":
            month = args.month or decks.last_month(paths)
            rows = decks.preview(paths, args.kind, args.plan, args.version, month)
            columns = decks.PREVIEW_COLUMNS
            _print_table(
                [c.replace("_", " ") for c in columns],
                [[r["destination"], f"{r['calls']:,}", *(format_money(r[c]) for c in columns[2:])] for r in rows],
                right=set(range(1, len(columns))),
            )
            _say(f"{args.plan} v{args.version} against the current deck on the traffic of {month:%Y-%m} "
                 "(amounts in the calls' currency, to the cent)")  # fmt: skip
        elif action == "approve":
            v = decks.approve(paths, args.kind, args.plan, args.version, args.by)
            _say(f"{v.label} approved by {v.approved_by}; publish it to land it for the pipeline")
        else:
            v = decks.publish(paths, args.kind, args.plan, args.version, args.by)
            _say(f"{v.label} published by {v.published_by}: landed in {v.landed_in}; the next run rates calls "
                 f"from {v.effective_from} with it")  # fmt: skip
    except decks.DeckError as error:
        print(f"tollhouse tariff {action}: {error}", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    return 0


def _case_materiality(args: argparse.Namespace) -> Decimal:
    from orchestration.assurance.cases import ra_settings

    return args.materiality if args.materiality is not None else ra_settings()["ra_case_materiality"]


def _immaterial(case, materiality: Decimal) -> bool:
    """A case with money worth less than the materiality (in its own currency) or than one minor unit of it."""
    from orchestration.assurance.kpis import MINOR_UNITS

    if case.currency is None:
        return False  # a signal without money (a file, a switch-day) is never hidden
    unit = Decimal(1).scaleb(-MINOR_UNITS.get(case.currency, 2))
    return case.leakage_amount < max(materiality, unit)


CASE_LIST_COLUMNS = ("CASE", "STATUS", "OWNER", "PERIOD", "CONTROL", "ACCOUNT", "VALUE", "RECOVERED", "TITLE")


def _case_table(found: list) -> list[str]:
    """The cases as aligned columns under a header; money right-aligned at the currency's decimals."""
    from orchestration.assurance.kpis import money_text

    rows = [
        (c.case_id, c.status, c.owner or "-", f"{c.billing_period:%Y-%m}", c.control_id, c.account_id or "-",
         money_text(c.leakage_amount, c.currency), money_text(c.recovered_amount, c.currency), c.title)
        for c in found
    ]  # fmt: skip
    return _table_lines(CASE_LIST_COLUMNS, rows, right={6, 7})  # the money columns


def _kpi_footer(figures) -> list[str]:
    """The case KPIs (orchestration/assurance/kpis.py) under the list: the same figures the report shows."""
    from orchestration.assurance.kpis import money_text

    out = []
    for cur in sorted(figures.leakage):
        pct = figures.recovered_pct[cur]
        out.append(
            f"{cur}: leakage worked {money_text(figures.leakage[cur], cur)}, recovered "
            f"{money_text(figures.recovered[cur], cur)} ({'n/a' if pct is None else f'{pct:.2f} %'}); refunds owed "
            f"{money_text(figures.refunds_owed[cur], cur)}, refunded {money_text(figures.refunded[cur], cur)}"
        )
    ageing = ", ".join(f"{label} {count:,}" for label, count in figures.ageing.items())
    out.append(f"open cases {figures.open_cases:,} ({ageing}); pending approval {figures.pending_approval:,}")
    return out


def _threshold(materiality: Decimal) -> str:
    return f"{materiality:,.2f} or one minor unit" if materiality > 0 else "one minor unit of their currency"


def _case_list(store: Path, args: argparse.Namespace) -> None:
    from orchestration.assurance import cases
    from orchestration.assurance.kpis import case_kpis

    found = cases.list_cases(store, status=args.status, owner=args.owner, period=args.period, account=args.account,
                             control=args.control)  # fmt: skip
    if args.min_value is not None:
        found = [c for c in found if c.leakage_amount >= args.min_value]
    materiality, hidden = _case_materiality(args), 0
    if not args.all:
        shown = [c for c in found if not _immaterial(c, materiality)]
        hidden, found = len(found) - len(shown), shown
    if args.sort == "value":
        found.sort(key=lambda c: (-c.leakage_amount, c.case_id))
    elif args.sort == "age":
        found.sort(key=lambda c: (c.created_at, c.case_id))  # oldest first
    for line in _case_table(found):
        print(line)
    below = (
        f"; {hidden:,} below materiality hidden (worth less than {_threshold(materiality)}; --all shows them)"
        if hidden
        else ""
    )
    print(f"{len(found):,} case(s) shown{below}")
    scope = f"{args.period:%Y-%m}" if args.period else "every period"
    print(f"KPIs of the cases of {scope}, cancelled left out:")
    for line in _kpi_footer(case_kpis(store, args.period)):
        print(f"  {line}")


def _show_case(detail) -> None:
    from orchestration.assurance.kpis import money_text

    case, cur = detail.case, detail.case.currency
    got = "refunded" if case.kind == "refund" else "recovered"
    print(f"{case.case_id}  {case.title}")
    print(f"  status {case.status}   owner {case.owner or '-'}   kind {case.kind}")
    print(
        f"  control {case.control_id}   type {case.finding_type}   account {case.account_id or '-'}   "
        f"period {case.billing_period:%Y-%m}"
    )
    print(f"  value {money_text(case.leakage_amount, cur)}   {got} {money_text(case.recovered_amount, cur)}")
    print(f"  created {case.created_at:%Y-%m-%d %H:%M} UTC   updated {case.updated_at:%Y-%m-%d %H:%M} UTC")
    print(f"findings ({sum(f.present for f in detail.findings)} of {len(detail.findings)} present):")
    for f in detail.findings:
        state = "present" if f.present else "gone"
        print(f"  {f.finding_id}  {f.finding_type or '-'}  {f.direction or '-'}  {f.leakage_area or '-'}  {state}  "
              f"last seen {f.last_seen_at:%Y-%m-%d}")  # fmt: skip
        print(f"      expected {money_text(f.expected_amount, cur)}, billed {money_text(f.billed_amount, cur)}, "
              f"leakage {money_text(f.leakage_amount, cur)}")  # fmt: skip
        if f.detail:
            print(f"      {f.detail}")
    if detail.entries:
        print(f"{'refund' if case.kind == 'refund' else 'recovery'} ledger:")
    for e in detail.entries:
        decision = "rejected" if e.state == "rejected" else "approved"
        decided = f"; {decision} by {e.decided_by}: {e.decision_reason}" if e.decided_by else ""
        reason = f": {e.reason}" if e.reason else ""
        print(f"  entry {e.entry_id}  {e.action:<9} {money_text(e.amount, cur):>16}  {e.state:<9} by {e.entered_by} "
              f"{e.entered_at:%Y-%m-%d %H:%M}{reason}{decided}")  # fmt: skip
    print("history (UTC):")
    for event in detail.events:
        moved = f" {event.from_status or '-'} -> {event.to_status}" if event.to_status else ""
        amount = f" amount {money_text(event.amount, cur)}" if event.amount is not None else ""
        note = f": {event.note}" if event.note else ""
        print(f"  {event.at:%Y-%m-%d %H:%M}  {event.actor}  {event.action}{moved}{amount}{note}")


def _entry_said(case_id: str, entry, currency: str | None) -> str:
    from orchestration.assurance.kpis import money_text

    if entry.state == "pending":
        return (
            f"entry {entry.entry_id} of {case_id}: {money_text(entry.amount, currency)} pending approval by "
            f"someone other than {entry.entered_by} (`tollhouse case approve {case_id} {entry.entry_id}`)"
        )
    return f"entry {entry.entry_id} of {case_id}: {money_text(entry.amount, currency)} {entry.state}"


def cmd_case(args: argparse.Namespace) -> int:
    from orchestration.assurance import cases
    from orchestration.assurance.kpis import money_text

    store = Paths.from_env().cases
    try:
        if args.case_command == "list" and args.below_materiality:
            below = cases.below_materiality(store, period=args.period)
            for b in below:
                print(
                    f"{b.finding_id}  {b.control_id}  {b.finding_type:<24} {b.account_id or '-':<12} "
                    f"{b.billing_period:%Y-%m}  {money_text(b.leakage_amount, b.currency):>16}  below materiality"
                )
            _say(f"{len(below)} finding(s) below materiality, filed without a case")
        elif args.case_command == "list":
            _case_list(store, args)
        elif args.case_command == "show":
            _show_case(cases.get_case(store, args.case_id))
        elif args.case_command == "assign":
            case = cases.assign(store, args.case_id, args.owner, _actor(args))
            _say(f"{case.case_id} assigned to {case.owner}")
        elif args.case_command == "move":
            case = cases.move(store, args.case_id, args.status, _actor(args), args.note, args.recovered)
            _say(f"{case.case_id} is now {case.status}")
        elif args.case_command == "recover":
            entry = cases.record_recovery(store, args.case_id, args.amount, _actor(args), args.reason, args.override)
            case = cases.get_case(store, args.case_id).case
            _say(_entry_said(case.case_id, entry, case.currency))
        elif args.case_command == "correct":
            made = cases.correct_recovery(
                store, args.case_id, args.entry_id, args.amount, _actor(args), args.reason, args.override
            )
            case = cases.get_case(store, args.case_id).case
            for entry in made:
                _say(_entry_said(case.case_id, entry, case.currency))
            _say(f"{case.case_id} amount now {money_text(case.recovered_amount, case.currency)}")
        elif args.case_command in ("approve", "reject"):
            entry = cases.decide_recovery(
                store, args.case_id, args.entry_id, _actor(args), args.reason, approve=args.case_command == "approve"
            )
            case = cases.get_case(store, args.case_id).case
            _say(_entry_said(case.case_id, entry, case.currency))
        else:
            cases.add_note(store, args.case_id, args.text, _actor(args))
            _say(f"note added to {args.case_id}")
    except cases.CaseError as error:
        _say(f"case {args.case_command}: {error}")
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tollhouse",
        description="Billing data warehouse and revenue assurance for VoIP and SIP-trunk providers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_simulation_options(p: argparse.ArgumentParser, months: bool, start: date = date(2026, 10, 1)) -> None:
        p.add_argument("--seed", type=int, default=7, help="random seed; same seed, same bytes (default 7)")
        p.add_argument("--start", type=_day, default=start, help=f"first day of traffic, YYYY-MM-DD (default {start})")
        if months:
            p.add_argument("--months", type=int, default=1, help="months of traffic (default 1)")
        p.add_argument("--accounts", type=int, default=30, help="customer accounts (default 30)")
        p.add_argument(
            "--calls-per-day", type=int, default=20_000, help="average calls per day over all switches (default 20000)"
        )

    p = sub.add_parser(
        "simulate",
        help="write a fictional operator's landing files and ground truth",
        description="Write switch CDRs, CRM, catalog, vendor, FX and tax files for a fictional "
        "SIP-trunk operator, with faults injected and recorded in a ground-truth folder "
        "beside (not inside) the landing zone. Deterministic for a seed.",
    )
    add_simulation_options(p, months=True)
    p.add_argument(
        "--out",
        default=str(Paths.from_env().data),
        help="data folder: writes OUT/landing and OUT/ground_truth (default: data/)",
    )
    p.add_argument("--no-faults", action="store_true", help="write clean data, no injected faults")
    p.add_argument(
        "--deck-prefixes",
        type=int,
        default=0,
        help="grow every rate plan and vendor deck with nested sub-ranges to this many prefixes (make bench: 50000)",
    )
    p.add_argument(
        "--split-bands", action="store_true", help="every plan with time bands splits calls where the band changes"
    )
    p.add_argument(
        "--fraud",
        choices=("none", "training", "holdout"),
        default="training",
        help="fraud incidents to add: the demo's training mix, the held-out mix kept for `fraud evaluate`, or none",
    )
    p.add_argument(
        "--leakage",
        choices=("none", "training", "holdout", "all"),
        default="training",
        help="leakage families to inject into the landed files: the demo's training mix, the held-out mix kept "
        "for `report score --mix holdout`, both, or none",
    )
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "load",
        help="load and mediate delivery days, publish the snapshot (Dagster runs); a backfill of days",
        description="Materialize the raw ingestion assets for a range of delivery days in one Dagster run, "
        "then mediate the same days' partitions (dbt models, tests as asset checks; every call in suspense "
        "is re-evaluated) and publish the dashboards' snapshot in a second. Re-loading a day replaces it; "
        "days are best mediated in delivery order.",
    )
    p.add_argument("--from", dest="first", type=_day, help="first delivery day (default: earliest landed)")
    p.add_argument("--to", dest="last", type=_day, help="last delivery day (default: latest landed)")
    p.add_argument("--source", action="append", choices=SOURCES, help="only this source (repeatable)")
    p.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild mediation from every delivered record, not just these days' (after an upgrade that "
        "changed its tables, or when days were mediated out of delivery order)",
    )
    p.set_defaults(func=cmd_load)

    p = sub.add_parser(
        "summary",
        help="print what the warehouse holds: files, lines, rejects, quarantine",
        description="Read the warehouse and print the run summary (a few seconds; it only reads the marts).",
    )
    p.add_argument(
        "--truth",
        action="store_true",
        help="a simulated operator: add the scorecards against the simulation's ground truth (half a minute "
        "on the demo; `make run` prints them)",
    )
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser(
        "recover",
        help="fail runs whose process died and free the warehouse slot they hold",
        description="A run killed with kill -9 (or crashed, or on a machine that rebooted) stays STARTED and "
        "holds the warehouse pool slot, so every later run would wait for it. Fail such runs (only those whose "
        "recorded process is gone from this machine), kill the dbt processes they left and free their slots. "
        "Every load, the sensors and the schedules do this first; this command does it alone.",
    )
    p.set_defaults(func=cmd_recover)

    p = sub.add_parser(
        "rate",
        help="price a CSV of calls against a tariff folder (what-if pricing, checking published cases)",
        description="Rate CALLS (call_id, rate_plan_id or account_id, b_number, answer_at in ISO 8601 with an "
        "offset, billable_seconds) against TARIFF_DIR (rate_plans.csv, rates.csv, time_bands.csv, and "
        "holidays.csv, plan_assignments.csv when used; docs/rating.md) with the warehouse's rating SQL "
        "on a temporary warehouse. Prints or writes call_id, cost, currency, matched_prefix and the reason "
        "a call could not be rated. A tariff that breaks a rule is reported by file, line and rule (exit 2).",
    )
    p.add_argument("tariff_dir", type=Path, help="folder with the tariff CSV files")
    p.add_argument("calls", type=Path, help="CSV of the calls to rate")
    p.add_argument("--out", type=_out_file, help="write the rated calls here instead of printing them")
    p.set_defaults(func=cmd_rate)

    p = sub.add_parser(
        "tariff",
        help="rate-deck versions: upload, diff, preview, approve, publish, list",
        description="Customer plans and vendor decks kept as versions (docs/rating.md, Managing tariffs): an "
        "upload is checked with the rules of `tollhouse rate` and kept as a draft; another person approves it; "
        "publishing lands it for the pipeline from its effective date.",
    )
    tariff_sub = p.add_subparsers(dest="tariff_command", required=True)

    def deck_options(t: argparse.ArgumentParser, by: bool = False) -> None:
        t.add_argument("--kind", choices=("customer", "vendor"), default="customer", help="default: customer")
        if by:
            t.add_argument("--by", required=True, help="who acts (recorded in the deck's log)")
        t.set_defaults(func=cmd_tariff)

    t = tariff_sub.add_parser("upload", help="check a tariff folder and keep it as the next draft of its deck")
    t.add_argument("folder", type=Path, help="rate_plans.csv, rates.csv, time_bands.csv (holidays.csv) of one plan")
    t.add_argument("--effective", type=_day, required=True, help="the day it takes effect, YYYY-MM-DD")
    deck_options(t, by=True)
    t = tariff_sub.add_parser("list", help="every version with its status and who acted")
    t.add_argument("--plan", help="only this rate plan")
    deck_options(t)
    t.set_defaults(kind=None)
    t = tariff_sub.add_parser("diff", help="prefixes added, removed and repriced between two versions")
    t.add_argument("plan")
    t.add_argument("old", type=int)
    t.add_argument("new", type=int)
    deck_options(t)
    t = tariff_sub.add_parser("preview", help="a month's traffic re-rated with a version against the current deck")
    t.add_argument("plan")
    t.add_argument("version", type=int)
    t.add_argument("--month", type=_month, help="YYYY-MM (default: the latest month with rated calls)")
    deck_options(t)
    for action, meaning in (("approve", "approve a draft (not its uploader)"), ("publish", "land an approved "
                            "version for the pipeline from its effective date")):  # fmt: skip
        t = tariff_sub.add_parser(action, help=meaning)
        t.add_argument("plan")
        t.add_argument("version", type=int)
        deck_options(t, by=True)

    p = sub.add_parser(
        "backfill",
        help="bill (re-run or backfill) a range of billing months in one Dagster run",
        description="Rebuild the draft invoices of the billing months FROM..TO from the rated calls in one "
        "Dagster run (the UI's way: materialize a range of the billing assets' month partitions). Closed "
        "months never change: their documents are re-rendered, byte for byte the same. Idempotent.",
    )
    p.add_argument("--from", dest="first", type=_month, required=True, help="first month, YYYY-MM")
    p.add_argument("--to", dest="last", type=_month, help="last month, YYYY-MM (default: --from)")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser(
        "close",
        help="close a billing month: bill it, freeze its invoices, render their documents",
        description="The monthly close (what the monthly_close schedule runs on the 5th): rebuild the month's "
        "invoices, freeze them (a closed month never changes; its late calls are billed as adjustments in the "
        "next open month), log the act, and write HTML, PDF and ERP exports under data/invoices/YYYY-MM/. "
        "Closing a closed month changes nothing.",
    )
    p.add_argument("--period", type=_month, required=True, help="the month, YYYY-MM")
    p.add_argument("--by", metavar="NAME", help="who closes, for the period log (default: $TOLLHOUSE_USER)")
    p.add_argument("--reason", help="a note for the log")
    p.set_defaults(func=cmd_close)

    p = sub.add_parser(
        "reopen",
        help="re-open a closed billing month (logged, needs a reason)",
        description="Re-open a closed month: its frozen invoices are discarded (the log keeps who, when, why and "
        "their totals) and the next run drafts it again. Close it again with `tollhouse close`.",
    )
    p.add_argument("--period", type=_month, required=True, help="the month, YYYY-MM")
    p.add_argument("--reason", required=True, help="why the month is re-opened (kept in the period log)")
    p.add_argument("--by", metavar="NAME", help="who re-opens, for the period log (default: $TOLLHOUSE_USER)")
    p.set_defaults(func=cmd_reopen)

    p = sub.add_parser(
        "case",
        help="work revenue-assurance cases: list, show, assign, move, note, recover, correct, approve, reject",
        description="The revenue-assurance cases that group the controls' leakage findings, kept in "
        "data/cases/cases.sqlite so that analysts' edits survive every pipeline run. Workflow: open -> "
        "investigating -> confirmed -> recovery_pending -> recovered | not_recoverable -> closed; a refund owed "
        "to the customer (over-billing): confirmed -> refund_due -> refunded -> closed; or cancelled. Every "
        "change is logged with who made it: --by NAME, else the TOLLHOUSE_USER environment variable.",
    )
    case_sub = p.add_subparsers(dest="case_command", required=True, metavar="ACTION")
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", metavar="NAME", help="who acts, for the case history (default: $TOLLHOUSE_USER)")
    c = case_sub.add_parser(
        "list",
        help="list cases",
        description="Cases under a header, the largest value first, with the case KPIs below. Cases worth less "
        "than the materiality (ra_case_materiality, at least one minor unit of their currency) are hidden and "
        "counted; --all shows them.",
    )
    c.add_argument("--status", help="only cases in this status")
    c.add_argument("--owner", help="only cases of this owner")
    c.add_argument("--period", type=_month, help="only cases of this billing month, YYYY-MM")
    c.add_argument("--account", help="only cases of this account")
    c.add_argument("--control", help="only cases of this control, e.g. RA-07")
    c.add_argument("--min-value", type=_amount, help="only cases worth at least this, in their currency")
    c.add_argument("--sort", choices=("value", "age", "id"), default="value",
                   help="largest value first (default), oldest first, or by id")  # fmt: skip
    c.add_argument("--all", action="store_true", help="show the cases below materiality too")
    c.add_argument("--materiality", type=_amount, help="hide cases worth less (default: ra_case_materiality)")
    c.add_argument(
        "--below-materiality",
        action="store_true",
        help="list the findings filed without a case instead (their group is below ra_case_materiality)",
    )
    c = case_sub.add_parser(
        "show",
        help="one case with its findings, their evidence, its ledger and history",
        description="Print a case, each finding with its evidence (type, direction, area, expected, billed, "
        "leakage, detail), the recovery ledger and the history with who acted.",
    )
    c.add_argument("case_id", help="e.g. CASE-000001")
    c = case_sub.add_parser(
        "assign", parents=[by], help="give a case to an owner", description="Set the owner of a case."
    )
    c.add_argument("case_id", help="e.g. CASE-000001")
    c.add_argument("owner", help="who works the case")
    c = case_sub.add_parser(
        "move",
        parents=[by],
        help="move a case to another status",
        description="Move a case along the workflow; a move the workflow does not allow is refused with the "
        "statuses it does allow (exit 2). Entering recovered (refunded) needs an amount above zero.",
    )
    c.add_argument("case_id", help="e.g. CASE-000001")
    c.add_argument("status", help="the status to move to")
    c.add_argument("--note", help="why, for the case history")
    c.add_argument("--recovered", type=_amount, help="record this amount recovered (refunded), e.g. 1234.56")
    c = case_sub.add_parser(
        "note", parents=[by], help="add a note to a case's history", description="Add a note to a case."
    )
    c.add_argument("case_id", help="e.g. CASE-000001")
    c.add_argument("text", help="the note")
    c = case_sub.add_parser(
        "recover",
        parents=[by],
        help="record an amount recovered (refunded) on a case",
        description="Add an entry to the case's recovery ledger. The case's entries stay within its value "
        "unless --override; an override, or an amount above ra_recovery_approval_above, counts only once "
        "another person approves it (case approve).",
    )
    c.add_argument("case_id", help="e.g. CASE-000001")
    c.add_argument("amount", type=_amount, help="the amount, in the case's currency, e.g. 49.72")
    c.add_argument("--reason", help="why (needed with --override)")
    c.add_argument("--override", action="store_true", help="above the case's value: needs a second person")
    c = case_sub.add_parser(
        "correct",
        parents=[by],
        help="correct a ledger entry: reverse it and record the right amount",
        description="A wrong amount is never edited: a reversal takes the entry back and a new entry records "
        "the right amount (0: none). Allowed on recovered and closed cases; the reason is kept.",
    )
    c.add_argument("case_id", help="e.g. CASE-000001")
    c.add_argument("entry_id", type=int, help="the entry to correct (case show lists them)")
    c.add_argument("amount", type=_amount, help="the right amount, e.g. 42.50")
    c.add_argument("--reason", required=True, help="why the amount was wrong")
    c.add_argument("--override", action="store_true", help="above the case's value: needs a second person")
    for decision in ("approve", "reject"):
        c = case_sub.add_parser(
            decision,
            parents=[by],
            help=f"{decision} a pending ledger entry (not your own)",
            description=f"{decision.capitalize()} an entry waiting for a second person; whoever entered it "
            f"cannot {decision} it.",
        )
        c.add_argument("case_id", help="e.g. CASE-000001")
        c.add_argument("entry_id", type=int, help="the pending entry")
        c.add_argument("--reason", required=True, help="why, for the case history")
    p.set_defaults(func=cmd_case)

    p = sub.add_parser(
        "assure",
        help="run the revenue-assurance controls and file their findings into cases",
        description="Run every revenue-assurance control (dbt models through Dagster) over the periods the "
        "billing system of record exported, and file the findings into the analysts' case store. Analysts' "
        "edits are kept; re-running is idempotent.",
    )
    p.set_defaults(func=cmd_assure)

    p = sub.add_parser(
        "fraud",
        help="fraud detection: train, score, work the alert queue, evaluate",
        description="Fraud detection (docs/fraud.md): rules and an Isolation Forest over per-call "
        "trailing windows of each account; alerts filed in the case store for analysts to confirm or dismiss.",
    )
    fraud_sub = p.add_subparsers(dest="fraud_command", required=True, metavar="ACTION")
    f = fraud_sub.add_parser("train", help="retrain the model on the warehouse's features, then score and alert")
    f.add_argument("--seed", type=int, default=7, help="the forest's random seed (default 7)")
    f.set_defaults(func=cmd_fraud_run)
    f = fraud_sub.add_parser("score", help="score every call with the current model, build and file the alerts")
    f.set_defaults(func=cmd_fraud_run)
    f = fraud_sub.add_parser("alerts", help="list the filed alerts, most exposed first")
    f.add_argument("--status", choices=("open", "confirmed", "dismissed"), help="only alerts with this status")
    f.add_argument("--limit", type=_count, default=50, help="show at most this many (default 50)")
    f.set_defaults(func=cmd_fraud_alerts)
    for action, meaning in (("confirm", "confirm an alert as fraud"), ("dismiss", "dismiss an alert as not fraud"),
                            ("reopen", "take a decision back")):  # fmt: skip
        f = fraud_sub.add_parser(action, help=f"{meaning} (a label for the next training)")
        f.add_argument("alert_id", help="FA-...")
        f.add_argument("--note", help="why")
        f.add_argument("--by", metavar="NAME", help="who decides, for the alert's log (default: $TOLLHOUSE_USER)")
        f.set_defaults(func=cmd_fraud_decide)
    f = fraud_sub.add_parser(
        "show",
        help="why an alert fired: rules and thresholds, features against the baseline, score, calls, exposure",
    )
    f.add_argument("alert_id", help="FA-...")
    f.add_argument("--calls", type=_count, default=10, help="show the first this many calls (default 10)")
    f.set_defaults(func=cmd_fraud_show)
    f = fraud_sub.add_parser(
        "label-from-truth",
        help="simulated operators only: confirm or dismiss every open alert from the simulation's ground truth",
        description="Decide every open filed alert as an analyst who knew the simulation's ground truth would "
        "(decided_by ground-truth), so that the next `fraud train` learns a supervised stage from labels. "
        "For the demo operator: a real operator's labels are its analysts' decisions.",
    )
    f.set_defaults(func=cmd_fraud_label_from_truth)
    f = fraud_sub.add_parser(
        "evaluate",
        help="score the current model and the rules on the held-out fraud mix, write the table",
        description="Simulate the held-out fraud mix (another seed, other intensities, hours and account sizes) "
        "into a work folder, run the pipeline on it, score it with the current model (never retrained on it) "
        "and report precision and recall at the daily alert budget, PR-AUC, detection delay and money lost "
        "before the first alert, per scenario kind, for rules, model and both.",
    )
    f.add_argument("--seed", type=int, default=1007, help="seed of the held-out simulation (default 1007)")
    f.add_argument("--accounts", type=int, default=30, help="accounts of the held-out operator (default 30)")
    f.add_argument("--calls-per-day", type=int, default=20_000, help="its traffic (default 20000)")
    f.add_argument("--model", help="model file to evaluate (default: the current one)")
    f.add_argument("--work", default=str(Paths.from_env().data / "fraud_eval"), help="work folder")
    f.add_argument("--out", type=_out_file, default="docs/fraud-evaluation.md", help="where to write the table")
    f.add_argument("--reuse", action="store_true", help="reuse the month already loaded in the work folder")
    f.set_defaults(func=cmd_fraud_evaluate)

    p = sub.add_parser("report", help="revenue-assurance reports", description="Revenue-assurance reports.")
    report_sub = p.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    r = report_sub.add_parser(
        "leakage",
        help="the leakage report of a period",
        description="The leakage report a revenue-assurance manager sends on: KPIs, leakage by area and "
        "type, control coverage, and the top cases by value with their evidence.",
    )
    r.add_argument("--period", type=_month, required=True, help="billing month, YYYY-MM")
    r.add_argument("--format", choices=("text", "csv", "html"), default="text", help="output format (default: text)")
    r.add_argument("--out", type=_out_file, help="write to this file instead of standard output (its folder is made)")
    r.set_defaults(func=cmd_report_leakage)
    r = report_sub.add_parser(
        "score",
        help="score the controls against a simulated month's ground truth",
        description="Simulate the demo operator with a mix of leakage families into DATA (default "
        "data/score, data/score-holdout), run it through the month ends and revenue assurance, and score "
        "every control against the ground truth: recall per leakage family by count and by value, findings "
        "that match no injection per control, the acceptance line. Writes the tables as Markdown.",
    )
    add_simulation_options(r, months=False, start=date(2026, 9, 1))  # delivered before the partitions end
    r.add_argument("--months", type=int, default=1, help="months to simulate (default: 1, minutes to run)")
    r.add_argument(
        "--mix",
        choices=("training", "holdout"),
        default="training",
        help="leakage families to inject and score: the training mix (default) or the held-out one",
    )
    r.add_argument("--data", default="", help="data folder for the scored run (default: data/score[-holdout])")
    r.add_argument(
        "--write",
        default=None,
        help="Markdown file to write (default: docs/assurance-score.md, or docs/assurance-score-holdout.md for "
        "the held-out mix; '' to print only)",
    )
    r.add_argument("--skip-simulate", action="store_true", help="score the run already in the data folder")
    r.set_defaults(func=cmd_report_score)

    p = sub.add_parser(
        "demo",
        help="simulate the demo operator, run the pipeline, print what it found",
        description="What `make run` does: simulate one month of the demo operator into "
        "data/, load it through Dagster and print the summary.",
    )
    add_simulation_options(p, months=False)
    p.add_argument("--skip-simulate", action="store_true", help="reuse the landing files already in data/")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="dagster")  # beta/preview notices are not for CLI users
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
