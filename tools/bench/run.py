"""`make bench`: throughput and peak memory of each pipeline step at scale, beside a plain pandas baseline.

Each step runs in its own process so that its peak resident memory is its own (read with os.wait4).
Results go to docs/benchmarks.md (rewritten) and data/bench/results.json. Not a test: it takes minutes.

    python -m tools.bench.run                  # 10 million calls
    python -m tools.bench.run --calls 1000000  # a quicker look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from orchestration.settings import REPO_ROOT
from tools.bench import baselines, steps
from tools.bench.report import write_report

STEPS = {
    "simulate": steps.step_simulate,
    "ingest": steps.step_ingest,
    "pandas_ingest": baselines.step_pandas_ingest,
    "mediate": steps.step_mediate,
    "mediate_day": steps.step_mediate_day,
    "pandas_mediate": baselines.step_pandas_mediate,
    "rate": steps.step_rate,
    "pandas_rate": baselines.step_pandas_rate,  # before rate_day: a daily run leaves only its day's rating requests
    "rate_day": steps.step_rate_day,
    "bill": steps.step_bill,
    "pandas_bill": baselines.step_pandas_bill,
    "assure": steps.step_assure,
    "pandas_assure": baselines.step_pandas_assure,
    "fraud": steps.step_fraud,
    "pandas_fraud": baselines.step_pandas_fraud,
    "dashboards": steps.step_dashboards,
    "pandas_dashboards": baselines.step_pandas_dashboards,
}


def run_step(name: str, data: Path, calls: int) -> dict:
    """Run one step in a child process; return its own figures plus wall time and peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.run", "--step", name, "--data", str(data), "--calls", str(calls)],
        stdout=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    output = child.stdout.read() if child.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step {name} failed")
    figures = json.loads(output.strip().splitlines()[-1])
    wall -= figures.get("untimed_s", 0)  # a step's own check of its result is not its work
    figures.update(step=name, wall_s=round(wall, 2), peak_rss_mb=round(usage.ru_maxrss / 1024),
                   per_s=round(figures["items"] / wall))  # fmt: skip
    print(f"  {name:<14} {figures['items']:>12,} {figures['unit']:<6} {wall:8.1f} s "
          f"{figures['per_s']:>12,}/s  peak {figures['peak_rss_mb']:,} MB", flush=True)  # fmt: skip
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls to simulate (default 10,000,000)")
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "data" / "bench", help="scratch data folder")
    parser.add_argument("--only", nargs="+", choices=STEPS, help="re-run these steps on the last run's data")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # internal: run one step here
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](args.data, args.calls)))
        return 0
    print(f"tollhouse benchmark at {args.calls:,} calls in {args.data}", flush=True)
    previous = {}
    if args.only:  # re-measure some steps on the data the last full run left; keep the others' figures
        previous = {r["step"]: r for r in json.loads((args.data / "results.json").read_text())}
    results = []
    for name in STEPS:  # a step the last run did not have (an older results.json) is left out
        if args.only and name not in args.only and name not in previous:
            continue
        results.append(run_step(name, args.data, args.calls) if not args.only or name in args.only else previous[name])
        # after every step: a step that fails later loses nothing measured before it (`--only` resumes)
        (args.data / "results.json").write_text(json.dumps(results, indent=2))
    write_report(results, args.calls, REPO_ROOT / "docs" / "benchmarks.md")
    print("written docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
