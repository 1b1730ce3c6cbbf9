"""`tollhouse report score`: the revenue-assurance controls scored against a simulated quarter's ground truth.

The demo operator is simulated for a quarter with its billing system of record's leaks and payment faults
(tools/simulator/billing_system.py), run through the operator's month ends and the controls (the
demo's flow), and every control is scored with `scoring.leakage_scorecard`: recall by count and by value,
the leakage found against the money injected, and the findings that match no injection. The table is
written as Markdown (docs/assurance-score.md), never by hand.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import yaml

from orchestration.settings import DBT_PROJECT_DIR, Paths
from orchestration.warehouse import connect
from tools.simulator.scoring import (
    COLLECTION_CONTROL,
    LEAKAGE_EXPECTED,
    covering_leakage,
    family_scorecard,
    leakage_scorecard,
    spurious_findings,
)

# The controls whose findings carry money the simulator knows: the billing export's leaks and collection.
MONEY_CONTROLS = tuple(sorted({control for control, _ in LEAKAGE_EXPECTED.values()} | {COLLECTION_CONTROL}))

# The acceptance of a held-out score: the share of held-out leaks found by count and by value, and the most
# findings that may match no injection.
ACCEPT_RECALL_PCT = Decimal(95)
ACCEPT_SPURIOUS_PCT = Decimal(2)
SCORE_FILES = {"training": "docs/assurance-score.md", "holdout": "docs/assurance-score-holdout.md"}


def assurance_settings() -> tuple[int]:
    """(ra_suspense_age_days,) as the dbt project configures the controls."""
    variables = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    return (int(variables["ra_suspense_age_days"]),)


def summarize(rows: list[dict], found_leakage: Decimal) -> dict:
    """The acceptance figures over the scorecard rows."""
    money = [r for r in rows if r["control_id"] in MONEY_CONTROLS and r["kind"]]
    injected = sum(r["injected"] for r in money)
    found = sum(r["found"] for r in money)
    injected_value = sum((r["injected_value"] or Decimal(0) for r in money), Decimal(0))
    found_value = sum((r["found_value"] or Decimal(0) for r in money), Decimal(0))
    per_control = {r["control_id"]: (r["findings"], r["unmatched_findings"]) for r in rows}
    findings = sum(f for f, _ in per_control.values())
    unmatched = sum(u for _, u in per_control.values())
    every = [r for r in rows if r["kind"]]
    return {
        "injected": injected,
        "found": found,
        "recall_count_pct": 100 * found / injected if injected else None,
        "injected_value": injected_value,
        "found_value": found_value,
        "recall_value_pct": 100 * found_value / injected_value if injected_value else None,
        "leakage_found": found_leakage,
        "leakage_vs_injected_pct": 100 * (found_leakage - injected_value) / injected_value if injected_value else None,
        "findings": findings,
        "unmatched": unmatched,
        "unmatched_pct": 100 * unmatched / findings if findings else None,
        "all_injected": sum(r["injected"] for r in every),
        "all_found": sum(r["found"] for r in every),
    }


def _pct(value: float | Decimal | None) -> str:
    return "n/a" if value is None else f"{value:.2f}%"


def render_markdown(rows: list[dict], summary: dict, command: str) -> str:
    lines = [
        "# Revenue-assurance controls scored against the ground truth",
        "",
        f"Produced by `{command}` (tools/simulator/assurance_score.py); do not edit by hand.",
        "",
        "Money is summed over the account currencies: each leak is compared with its findings in its own",
        "currency. `value` columns are empty where the simulator does not know the money (ingestion faults,",
        "suspense, negative-margin rates: scored by count).",
        "",
        f"- Money leaks and collection faults: **{summary['found']} of {summary['injected']} found "
        f"({_pct(summary['recall_count_pct'])})**, by value **{summary['found_value']:.6f} of "
        f"{summary['injected_value']:.6f} ({_pct(summary['recall_value_pct'])})**.",
        f"- Leakage the money controls report, all findings: {summary['leakage_found']:.6f}, "
        f"{_pct(summary['leakage_vs_injected_pct'])} off the money injected.",
        f"- Findings that match no injection: **{summary['unmatched']} of {summary['findings']} "
        f"({_pct(summary['unmatched_pct'])})**.",
        f"- Every injected fault a control owns, money or not: {summary['all_found']} of {summary['all_injected']} "
        "found.",
        "",
        "| control | injected kind | finding type | injected | found | recall | injected value | found value "
        "| findings | unmatched |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        recall = _pct(100 * r["found"] / r["injected"]) if r["injected"] else ""
        value = "" if r["injected_value"] is None else f"{r['injected_value']:.6f}"
        found_value = "" if r["found_value"] is None else f"{r['found_value']:.6f}"
        lines.append(
            f"| {r['control_id']} | {r['kind'] or '(none injected)'} | {r['finding_type'] or ''} | {r['injected']} "
            f"| {r['found']} | {recall} | {value} | {found_value} | {r['findings']} | {r['unmatched_findings']} |"
        )
    return "\n".join(lines) + "\n"


def family_summary(families: list[dict], spurious: list[dict], findings_leakage: Decimal | None = None) -> dict:
    """The leakage families' totals (recall by count and by value, the covering findings' leakage against
    the injected value), the spurious findings over all controls and the acceptance verdict."""
    leaks = sum(r["leaks"] for r in families)
    found = sum(r["found"] for r in families)
    injected_value = sum((r["injected_value"] or Decimal(0) for r in families), Decimal(0))
    found_value = sum((r["found_value"] or Decimal(0) for r in families), Decimal(0))
    findings = sum(r["findings"] for r in spurious)
    unmatched = sum(r["spurious"] for r in spurious)
    recall_count = Decimal(100) * found / leaks if leaks else None
    recall_value = Decimal(100) * found_value / injected_value if injected_value else None
    spurious_pct = Decimal(100) * unmatched / findings if findings else Decimal(0)
    return {
        "leaks": leaks,
        "found": found,
        "recall_count_pct": recall_count,
        "injected_value": injected_value,
        "found_value": found_value,
        "recall_value_pct": recall_value,
        "findings_leakage": sum((r["findings_leakage"] for r in families), Decimal(0))
        if findings_leakage is None
        else findings_leakage,
        "findings": findings,
        "spurious": unmatched,
        "spurious_pct": spurious_pct,
        "accepted": bool(leaks)
        and recall_count is not None
        and recall_count >= ACCEPT_RECALL_PCT
        and (recall_value is None or recall_value >= ACCEPT_RECALL_PCT)
        and spurious_pct < ACCEPT_SPURIOUS_PCT,
    }


def render_families(mix: str, families: list[dict], spurious: list[dict], summary: dict) -> list[str]:
    """The leakage families' section: per family recall by count and value, spurious findings per control."""
    verdict = "met" if summary["accepted"] else "NOT met"
    lines = [
        f"## Leakage families ({mix} mix, ground_truth/leaks.csv)",
        "",
        "A leak is found when a finding of the same account (or the leak names none) and period (or none), of a",
        "compatible direction, names its subject, one of its calls (mapped to the mediated call), or its account.",
        "A found leak counts its own injected value; the covering findings' own leakage is shown beside it. A",
        "finding about a leak in the other direction does not find it, and is not spurious either.",
        "",
        f"- Leaks found: **{summary['found']} of {summary['leaks']} ({_pct(summary['recall_count_pct'])})**, by value "
        f"**{summary['found_value']:.2f} of {summary['injected_value']:.2f} ({_pct(summary['recall_value_pct'])})**.",
        f"- Leakage of the findings that cover them: {summary['findings_leakage']:.2f} against "
        f"{summary['injected_value']:.2f} injected.",
        f"- Findings that match no injection of any ground truth: **{summary['spurious']} of {summary['findings']} "
        f"({_pct(summary['spurious_pct'])})**.",
        f"- Acceptance (at least {ACCEPT_RECALL_PCT}% by count and by value, under {ACCEPT_SPURIOUS_PCT}% spurious): "
        f"**{verdict}**.",
        "",
        "| family | area | leaks | found | recall | injected value | found value | value recall | estimated "
        "| findings | findings' leakage |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if not families:
        lines.append("| (no leak of this mix was injected) | | | | | | | | | | |")
    for r in families:
        recall = _pct(100 * r["found"] / r["leaks"]) if r["leaks"] else ""
        value_recall = _pct(100 * r["found_value"] / r["injected_value"]) if r["injected_value"] else ""
        lines.append(
            f"| {r['family']} | {r['area']} | {r['leaks']} | {r['found']} | {recall} | {r['injected_value']:.2f} "
            f"| {r['found_value']:.2f} | {value_recall} | {r['estimated']} | {r['findings']} "
            f"| {r['findings_leakage']:.2f} |"
        )
    lines += [
        "",
        "### Findings that match no injection, per control",
        "",
        "| control | findings | spurious | spurious leakage | first ids |",
        "|---|---:|---:|---:|---|",
    ]
    for r in spurious:
        examples = " ".join(r["examples"] or [])
        lines.append(
            f"| {r['control_id']} | {r['findings']} | {r['spurious']} | {r['spurious_leakage']:.2f} | {examples} |"
        )
    return lines


def score(paths: Paths) -> tuple[list[dict], dict]:
    with connect(paths.warehouse, read_only=True) as con:
        rows = leakage_scorecard(con, paths.ground_truth, *assurance_settings())
        (found_leakage,) = con.execute(
            f"select coalesce(sum(leakage_amount), 0) from marts.fct_leakage_findings "
            f"where control_id in {MONEY_CONTROLS}"
        ).fetchone()
    return rows, summarize(rows, found_leakage)


def score_families(paths: Paths, mix: str) -> tuple[list[dict], list[dict], dict]:
    """The leakage families of `mix` and the spurious findings per control, with their summary."""
    with connect(paths.warehouse, read_only=True) as con:
        families = family_scorecard(con, paths.ground_truth, mix)
        covering = covering_leakage(con, paths.ground_truth, mix)
        spurious = spurious_findings(con, paths.ground_truth, *assurance_settings())
    return families, spurious, family_summary(families, spurious, covering)


def score_quarter(
    args: argparse.Namespace,
    say: Callable[[str], None],
    operate: Callable[[Paths], int],
    simulate: Callable[[argparse.Namespace], int],
) -> int:
    mix = getattr(args, "mix", "training")
    data = Path(args.data or Paths.from_env().data / ("score" if mix == "training" else f"score-{mix}")).resolve()
    os.environ["TOLLHOUSE_DATA_DIR"] = str(data)  # dbt and Dagster run against the scored folder
    os.environ["DAGSTER_HOME"] = str(data / "dagster")
    paths = Paths(data)
    if not args.skip_simulate:
        args.out, args.no_faults, args.leakage = str(data), False, mix
        if simulate(args):
            return 1
        status = operate(paths)
        if status:
            say("the run failed; scoring what it wrote")
    families, spurious, family_figures = score_families(paths, mix)
    command = (
        f"tollhouse report score --mix {mix} --seed {args.seed} --start {args.start:%Y-%m-%d} "
        f"--months {args.months} --accounts {args.accounts} --calls-per-day {args.calls_per_day}"
    )
    sections = render_families(mix, families, spurious, family_figures)
    if (paths.ground_truth / "leakage.csv").exists():
        rows, summary = score(paths)
        legacy = render_markdown(rows, summary, command).splitlines()[4:]  # below the title and command
        sections += ["", "## The simulated billing system's leaks, payment and ingestion faults", *legacy]
    title = "Revenue-assurance controls scored against the ground truth" + (
        "" if mix == "training" else f" ({mix} leakage families)"
    )
    text = "\n".join([f"# {title}", "", f"Produced by `{command}` (tools/simulator/assurance_score.py); do not "
                      "edit by hand.", "", *sections]) + "\n"  # fmt: skip
    print(text)
    target = SCORE_FILES.get(mix, "") if args.write is None else args.write
    if target:
        Path(target).write_text(text, encoding="utf-8")
        say(f"wrote {target}")
    return 0
