"""A run killed with `kill -9` must not wedge the warehouse: its pool slot is freed, the run is failed with a
reason, no dbt process it started keeps writing, and the next load goes on. Real loads, in real subprocesses,
really killed; a live run is never touched."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from orchestration.pipeline.instance import RUN_ID_ENV, WORKER_TAG, get_instance, worker_identity
from orchestration.settings import REPO_ROOT, Paths
from tests.conftest import land
from tests.test_ingest import ast
from tests.worlds import data_folder

pytestmark = pytest.mark.integration


@pytest.fixture
def paths():
    """The test's data folder on tmpfs: Dagster's SQLite event log syncs on every event."""
    with data_folder("run-recovery") as folder:
        yield folder


DAY = date(2026, 10, 1)
POOL = "warehouse"

# A load whose asset, once its rows are in, stays in the step (holding the slot and the DuckDB file) as a
# long load does, until it is killed.
STUCK_LOAD = """
import time
from datetime import date
import orchestration.pipeline.assets.ingestion as ingestion
from orchestration.pipeline.runs import load_days
from orchestration.settings import Paths

real_ingest = ingestion.ingest_days

def ingest_then_hang(*args, **kwargs):
    loads = real_ingest(*args, **kwargs)
    time.sleep(600)
    return loads

ingestion.ingest_days = ingest_then_hang
load_days(Paths.from_env(), date(2026, 10, 1), date(2026, 10, 1), ["asterisk"])
"""

BUILD = """
from datetime import date
from orchestration.pipeline.runs import build_models
from orchestration.settings import Paths
build_models(Paths.from_env(), date(2026, 10, 1), date(2026, 10, 1))
"""


def _spawn(paths: Paths, code: str) -> subprocess.Popen:
    log = (paths.data / "child.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT, env=os.environ.copy(), stdout=log, stderr=log
    )


def _wait_for(what: str, check: Callable[[], object], child: subprocess.Popen, paths: Paths, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if child.poll() is not None:
            break
        time.sleep(0.02)
    child.kill()
    log = (paths.data / "child.log").read_text(errors="replace")[-3000:]
    pytest.fail(f"never saw {what} (child exit {child.poll()}):\n{log}")


def _slot_holders(instance: dg.DagsterInstance) -> set[str]:
    return {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}


def _started_holder(instance: dg.DagsterInstance) -> str | None:
    for run_id in _slot_holders(instance):
        run = instance.get_run_by_id(run_id)
        if run and run.status == dg.DagsterRunStatus.STARTED:
            return run_id
    return None


def _failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert len(records) == 1
    return records[0].event_log_entry.dagster_event.message


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (an orphan its new parent has not reaped yet is gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _dbt_child(parent: int, warehouse: Path) -> int | None:
    """The pid of the `dbt build` process `parent` started, once it has the warehouse file open."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if ppid != parent or b"build" not in cmdline or not any(a.endswith(b"dbt") for a in cmdline[:3]):
                continue
            if any(os.readlink(fd) == str(warehouse) for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
    return None


@contextmanager
def _deadline(seconds: int, what: str):
    """Fail (instead of waiting forever) when `what` takes longer than `seconds`: a wedged load waits on its
    pool slot indefinitely."""

    def expire(signum, frame):
        raise TimeoutError(f"{what} still waiting after {seconds} s: the warehouse is wedged")

    # pytest-timeout's own alarm (the test's timeout marker) is put back afterwards, less the time spent
    previous = signal.signal(signal.SIGALRM, expire)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


def _raw_counts(paths: Paths) -> tuple[int, int]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = con.execute("select count(*) from raw.asterisk__cdr").fetchone()[0]
        files = con.execute("select count(*) from raw.load_audit where status = 'loaded'").fetchone()[0]
    return rows, files


@pytest.mark.timeout(240)
def test_killed_load_is_failed_its_slot_freed_and_the_next_load_runs(paths):
    from orchestration.pipeline.instance import recover_dead_runs

    land(paths, "asterisk", DAY.isoformat(), "a_20261001T01Z.csv", f"{ast(uid='1')}\n{ast(uid='2')}\n".encode())
    instance = get_instance(paths)
    child = _spawn(paths, STUCK_LOAD)
    try:
        dead = _wait_for("the load holding the warehouse slot", lambda: _started_holder(instance), child, paths)
        # alive: recovery leaves it alone, however often it is asked
        assert recover_dead_runs(instance) == []
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.STARTED
        assert _slot_holders(instance) == {dead}
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()

    from orchestration.pipeline.runs import load_days

    with _deadline(60, "the next load"):
        assert load_days(paths, DAY, DAY, ["asterisk"]).success

    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    message = _failure_message(instance, dead)
    assert f"pid {child.pid} on {socket.gethostname()}" in message
    assert "no longer running" in message
    assert _slot_holders(instance) == set()
    # the killed load had committed its file; the next one found it loaded: 2 lines, 2 rows, 1 file, once
    assert _raw_counts(paths) == (2, 1)
    # nothing left to recover: a second pass changes nothing
    assert recover_dead_runs(instance) == []


@pytest.mark.timeout(300)
def test_killed_build_leaves_no_dbt_process_and_the_next_load_runs(paths):
    from orchestration.pipeline.runs import load_days

    land(paths, "asterisk", DAY.isoformat(), "a_20261001T01Z.csv", f"{ast(uid='1')}\n{ast(uid='2')}\n".encode())
    assert load_days(paths, DAY, DAY, ["asterisk"]).success
    instance = get_instance(paths)
    child = _spawn(paths, BUILD)
    try:
        dbt = _wait_for(
            "dbt building in the warehouse", lambda: _dbt_child(child.pid, paths.warehouse), child, paths, 150
        )
        dead = _started_holder(instance)
        assert dead
        # dbt frozen mid-build stands for a long model: it must not outlive the run that started it
        os.kill(dbt, signal.SIGSTOP)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
    # it dies with its parent, before anything else happens (recovery would kill it too, later)
    deadline = time.monotonic() + 10
    while _alive(dbt) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(dbt), "dbt outlived the process of the run that started it"

    land(paths, "asterisk", "2026-10-02", "a_20261002T01Z.csv", f"{ast(uid='3')}\n".encode())
    try:
        with _deadline(60, "the next load"):
            assert load_days(paths, DAY, date(2026, 10, 2), ["asterisk"]).success
        assert not _alive(dbt), "the killed run's dbt process is still running"
    finally:
        if _alive(dbt):
            os.kill(dbt, signal.SIGKILL)

    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    assert "no longer running" in _failure_message(instance, dead)
    assert _slot_holders(instance) == set()
    assert _raw_counts(paths) == (3, 2)


def _run(instance: dg.DagsterInstance, worker: str, status=dg.DagsterRunStatus.STARTED, slot: bool = True) -> str:
    """A run as a CLI run records it (its process in the worker tag), holding a `warehouse` slot."""
    run = instance.add_run(
        DagsterRun(job_name="__ephemeral_asset_job__", run_id=str(uuid.uuid4()), status=status,
                   tags={WORKER_TAG: worker})
    )  # fmt: skip
    if slot:
        assert instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "raw__asterisk").is_claimed
    return run.run_id


def _gone_process() -> str:
    """The identity of a process that ran and has exited."""
    proc = subprocess.Popen(["sleep", "600"])
    identity = worker_identity(proc.pid)
    proc.kill()
    proc.wait()
    return identity


def test_recovery_fails_only_runs_whose_process_is_gone_and_kills_what_they_left(paths, capsys):
    from orchestration.pipeline.schedules import daily_load_schedule
    from orchestration.pipeline.sensors import run_recovery_sensor

    instance = get_instance(paths)
    instance.event_log_storage.set_concurrency_slots(POOL, 8)
    host, boot, namespace, me, ticks = worker_identity().split()
    dead = _run(instance, _gone_process())
    reused = _run(instance, f"{host} {boot} {namespace} {me} {int(ticks) + 1}")  # a live pid, another process
    alive = _run(instance, worker_identity())
    elsewhere = _run(instance, f"other-{host} {boot} {namespace} 1 1")  # cannot be checked here: left alone
    container = _run(instance, f"{host} {boot} 1 1 1")  # another pid namespace on this machine: left alone
    rebooted = _run(instance, f"{host} not-this-boot {namespace} {me} {ticks}")  # gone with its boot
    garbled = _run(instance, "not a process")  # a tag it cannot read: left alone
    over = _run(instance, worker_identity(), status=dg.DagsterRunStatus.SUCCESS)  # finished, slot never freed
    # a dbt the dead run started, still running: found by the run id in its environment
    orphan = subprocess.Popen(["sleep", "600"], env={**os.environ, RUN_ID_ENV: dead})
    try:
        with dg.build_sensor_context(instance=instance) as context:
            result = run_recovery_sensor(context)
        assert isinstance(result, dg.SkipReason)
        assert result.skip_message.startswith("failed 3 dead run(s): ")
        assert orphan.wait(5) == -signal.SIGKILL
    finally:
        orphan.kill()

    runs = (dead, reused, rebooted, alive, elsewhere, container, garbled, over)
    assert {run_id: instance.get_run_by_id(run_id).status for run_id in runs} == {
        dead: dg.DagsterRunStatus.FAILURE,
        reused: dg.DagsterRunStatus.FAILURE,
        rebooted: dg.DagsterRunStatus.FAILURE,
        alive: dg.DagsterRunStatus.STARTED,
        elsewhere: dg.DagsterRunStatus.STARTED,
        container: dg.DagsterRunStatus.STARTED,
        garbled: dg.DagsterRunStatus.STARTED,
        over: dg.DagsterRunStatus.SUCCESS,
    }
    message = _failure_message(instance, dead)
    assert "is no longer running" in message
    assert f"processes it left running were killed (pids {orphan.pid})" in message
    assert f"pid {me} on {host}" in _failure_message(instance, reused)
    assert _slot_holders(instance) == {alive, elsewhere, container, garbled}

    # the schedules recover too, before they ask for their run
    later = _run(instance, _gone_process(), slot=False)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 10, 2, 2, 30)) as ctx:
        assert daily_load_schedule(ctx).partition_key == "2026-10-01"
    assert instance.get_run_by_id(later).status == dg.DagsterRunStatus.FAILURE
    assert _slot_holders(instance) == {alive, elsewhere, container, garbled}
    # and so does `tollhouse recover`; nothing is left to do
    from orchestration.cli import main

    assert main(["recover"]) == 0
    assert capsys.readouterr().out == "[tollhouse] no dead runs\n"


def _launched(instance: dg.DagsterInstance, pid: int | None, said_at: float | None = None, host="localhost") -> str:
    """A run `dagster dev` launched (on `host`): its run worker reports its pid in an engine event, at
    `said_at` (default: now)."""
    from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
    from dagster._core.events.log import EventLogEntry

    run = instance.add_run(
        DagsterRun(job_name="daily_load", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
                   tags={"dagster/grpc_info": f'{{"host": "{host}", "port": 4266}}'})
    )  # fmt: skip
    if pid is not None:
        message = f"Started process for run (pid: {pid})."
        event = DagsterEvent(
            event_type_value=DagsterEventType.ENGINE_EVENT.value,
            job_name=run.job_name,
            message=message,
            event_specific_data=EngineEventData.in_process(pid),
        )
        instance.handle_new_event(
            EventLogEntry(error_info=None, level=20, user_message=message, run_id=run.run_id,
                          timestamp=said_at or time.time(), dagster_event=event)
        )  # fmt: skip
    return run.run_id


def test_runs_launched_by_dagster_dev_are_judged_by_their_run_worker(paths):
    from orchestration.pipeline.instance import recover_dead_runs

    instance = get_instance(paths)
    gone = subprocess.Popen(["sleep", "600"])
    gone.kill()
    gone.wait()
    dead = _launched(instance, gone.pid)
    alive = _launched(instance, os.getpid())
    not_yet = _launched(instance, None)  # its worker has not said which process it is: left alone
    elsewhere = _launched(instance, gone.pid, host="10.9.8.7")  # launched on another machine: left alone
    newcomer = subprocess.Popen(["sleep", "600"])
    try:
        # the worker said it was this pid an hour ago; the process with that pid now started since: reused
        reused = _launched(instance, newcomer.pid, said_at=time.time() - 3600)
        assert sorted(recover_dead_runs(instance)) == sorted([dead, reused])
    finally:
        newcomer.kill()
        newcomer.wait()
    status = {run_id: instance.get_run_by_id(run_id).status for run_id in (dead, alive, not_yet, elsewhere, reused)}
    assert status == {
        dead: dg.DagsterRunStatus.FAILURE,
        alive: dg.DagsterRunStatus.STARTED,
        not_yet: dg.DagsterRunStatus.STARTED,
        elsewhere: dg.DagsterRunStatus.STARTED,
        reused: dg.DagsterRunStatus.FAILURE,
    }
    assert f"pid {gone.pid} on {socket.gethostname()}" in _failure_message(instance, dead)
