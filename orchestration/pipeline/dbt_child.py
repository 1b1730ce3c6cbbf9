#!/bin/sh
"exec" "${TOLLHOUSE_PYTHON:-python3}" "$0" "$@"  # fmt: skip

# ruff: noqa: E402  (sh runs the line above, which execs Python on this file; to Python it is a string)
"""dbt, started so that it dies with the process that started it.

Dagster runs dbt as a subprocess (dagster-dbt's DbtCliResource, whose `dbt_executable` is this file). When
that process is killed with SIGKILL, a plain child survives it and goes on writing, holding the DuckDB
file's write lock. This wrapper asks Linux to SIGKILL it when its parent dies (PR_SET_PDEATHSIG, kept
across exec), then becomes dbt. The parent must not be a thread that ends before dbt does: Linux delivers
the signal when the forking thread exits (dagster-dbt starts dbt from the step's own thread, which waits
for it). Elsewhere than Linux it is plain dbt; the run recovery (orchestration/pipeline/instance.py) kills leftovers.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    dbt = os.environ.get("TOLLHOUSE_DBT") or os.path.join(os.path.dirname(sys.executable), "dbt")
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            sys.exit(f"dbt wrapper: prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
        parent = os.environ.get("TOLLHOUSE_DBT_PARENT")
        if parent and os.getppid() != int(parent):  # it died before the request took effect
            sys.exit(f"dbt wrapper: the process that started dbt ({parent}) is gone; not starting dbt")
    # The profile's `run` target names the warehouse relative to the data folder (dbt_project/profiles.yml).
    cwd = os.environ.get("TOLLHOUSE_DBT_CWD")
    if cwd:
        os.makedirs(cwd, exist_ok=True)
        os.chdir(cwd)
    os.execv(dbt, [dbt, *sys.argv[1:]])


if __name__ == "__main__":
    main()
