"""The Dagster instance tollhouse runs in: a folder under data/, so the UI shows CLI runs too.

It also recovers runs whose process died (`kill -9`, OOM killer, a closed laptop): such a run stays STARTED
and keeps the `warehouse` pool slot (limit 1), and every later writer would wait for it forever.
`recover_dead_runs` fails those runs, frees their slots and kills the dbt processes they left behind."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from orchestration.settings import Paths

# One writer at a time on the DuckDB file: every writing asset is in the `warehouse` pool, limit 1.
# Run monitoring (the daemon of `dagster dev`) fails runs that never started and frees the slots a finished
# run still holds; runs whose process died are failed by `recover_dead_runs`, which the sensors run.
DAGSTER_YAML = """\
concurrency:
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  free_slots_after_run_end_seconds: 60
telemetry:
  enabled: false
"""

# "host boot_id pid_namespace pid start_ticks" of the process that runs a run, set when it is created (CLI runs).
WORKER_TAG = "tollhouse/worker"
# In the environment of every dbt process a run starts: how recovery finds them once that run is dead.
RUN_ID_ENV = "TOLLHOUSE_RUN_ID"
# Statuses in which a run may hold a slot or be about to claim one.
UNFINISHED = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)

logger = logging.getLogger(__name__)


def ensure_dagster_home(paths: Paths) -> Path:
    """Point DAGSTER_HOME at data/dagster (unless set) and write its dagster.yaml once."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(paths.dagster_home)))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def get_instance(paths: Paths) -> dg.DagsterInstance:
    ensure_dagster_home(paths)
    return dg.DagsterInstance.get()


# --- which process runs a run, and is it still there ------------------------------------------------------


def _boot_id() -> str:
    """Changes at every boot: a process recorded before a reboot is gone whatever its pid."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks after boot) of a process, None when there is no such process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[19])


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def _pid_namespace() -> str:
    """Containers on one machine share its boot_id but not their pids: the pid namespace tells them apart."""
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:")
    except OSError:
        return "-"


def worker_identity(pid: int | None = None) -> str:
    """This process (or `pid`) as "host boot_id pid_namespace pid start_ticks": a reused pid has another
    start time."""
    pid = pid or os.getpid()
    stat = _proc_stat(pid)
    return f"{socket.gethostname()} {_boot_id() or '-'} {_pid_namespace()} {pid} {stat[1] if stat else '-'}"


def worker_tags() -> dict[str, str]:
    return {WORKER_TAG: worker_identity()}


def worker_alive(identity: str) -> bool | None:
    """Whether the process `worker_identity` named is still running: None when this process cannot tell
    (another host or container, no /proc, a tag it does not understand): such a run is never failed here."""
    fields = identity.split()
    if len(fields) != 5 or "-" in fields or not fields[3].isdigit() or not fields[4].isdigit():
        return None
    host, boot, namespace, pid, ticks = fields
    if host != socket.gethostname() or not _boot_id():
        return None
    if boot != _boot_id():
        return False  # the machine restarted since: every process of that boot is gone
    if namespace != _pid_namespace():
        return None
    stat = _proc_stat(int(pid))
    return stat is not None and stat[0] != "Z" and stat[1] == int(ticks)


def _launched_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[int, float] | None:
    """(pid, when it said so) of the run worker a launcher started on this host (`dagster dev`): Dagster's own
    "Started process for run (pid: N)" event. None for runs launched elsewhere or not yet started."""
    grpc = json.loads(run.tags.get("dagster/grpc_info", "{}") or "{}")
    if not grpc or (grpc.get("host") or "localhost") not in {"localhost", "127.0.0.1", "::1", socket.gethostname()}:
        return None
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
    for record in reversed(records):  # the latest worker, should the run have been resumed
        entry = record.event_log_entry
        if entry.dagster_event and entry.dagster_event.message.startswith("Started process for run (pid: "):
            metadata = entry.dagster_event.engine_event_data.metadata
            return int(metadata["pid"].value), entry.timestamp
    return None


def _started_before(pid: int, timestamp: float) -> bool | None:
    """Whether `pid` is a live process that started no later than `timestamp` (a later one reuses the pid)."""
    stat = _proc_stat(pid)
    if stat is None or stat[0] == "Z":
        return False
    try:
        started = _boot_time() + stat[1] / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    return started <= timestamp + 1  # btime has whole seconds


def _run_process(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[str, bool | None]:
    """(a description of the process that runs `run`, whether it is alive; None: unknown)."""
    if WORKER_TAG in run.tags:
        fields = run.tags[WORKER_TAG].split()
        described = f"pid {fields[3]} on {fields[0]}" if len(fields) == 5 else run.tags[WORKER_TAG]
        return described, worker_alive(run.tags[WORKER_TAG])
    launched = _launched_worker(instance, run)
    if launched and Path("/proc").is_dir():
        pid, said_at = launched
        return f"pid {pid} on {socket.gethostname()}", _started_before(pid, said_at)
    return "its process", None


# --- recovery ----------------------------------------------------------------------------------------------


def orphaned_processes(run_id: str) -> list[int]:
    """Processes (this user's) started by the run `run_id`: dbt carries the run's id in its environment."""
    marker = f"{RUN_ID_ENV}={run_id}".encode()
    found = []
    for proc in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _kill(pids: list[int], wait: float = 10.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any((s := _proc_stat(p)) and s[0] != "Z" for p in pids):
        time.sleep(0.05)


def _slot_run_ids(instance: dg.DagsterInstance) -> set[str]:
    """Runs holding a pool slot or waiting for one."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return set()
    run_ids = set()
    for info in storage.get_concurrency_infos(list(storage.get_concurrency_keys())).values():
        run_ids |= {slot.run_id for slot in info.claimed_slots} | {step.run_id for step in info.pending_steps}
    return run_ids


def recover_dead_runs(instance: dg.DagsterInstance, log: logging.Logger | None = None) -> list[str]:
    """Fail every unfinished run whose process is gone (a run whose process is alive, or cannot be checked
    from this host, is left alone), kill the dbt processes it left running, and free the pool slots of
    runs that are over. Returns the ids of the runs it failed. Cheap when there is nothing to do: the
    sensors and every CLI run call it first."""
    log = log or logger
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=list(UNFINISHED))):
        run = record.dagster_run
        process, alive = _run_process(instance, run)
        if alive is not False:
            continue
        orphans = orphaned_processes(run.run_id)
        _kill(orphans)
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in UNFINISHED:  # finished meanwhile, or another recoverer
            continue
        since = datetime.fromtimestamp(record.start_time or record.create_timestamp.timestamp(), UTC)
        killed = f" and the processes it left running were killed (pids {', '.join(map(str, orphans))})"
        message = (
            f"Run failed by tollhouse's run recovery: the process that ran it ({process}, run started "
            f"{since:%Y-%m-%d %H:%M:%S} UTC) is no longer running (killed or crashed), so its pool slots "
            f"were freed{killed if orphans else ''}."
        )
        instance.report_run_failed(current, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.warning(f"run {run.run_id}: {message}")
        failed.append(run.run_id)
    # slots still held by runs that are over (failed above, failed by Dagster, or deleted)
    for run_id in _slot_run_ids(instance):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            log.warning(f"freed the pool slots of run {run_id}, which is {run.status.value if run else 'deleted'}")
    return failed


def recover_in_tick(context: dg.SensorEvaluationContext | dg.ScheduleEvaluationContext) -> list[str]:
    """`recover_dead_runs` in a sensor's or schedule's evaluation (the daemon of `dagster dev`), so the run it
    requests does not queue behind a dead run's slot. Never fails the tick: loading must go on."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a context built without an instance (tests)
        return []
    try:
        return recover_dead_runs(instance, context.log)
    except Exception as error:
        context.log.error(f"run recovery failed: {error!r}")
        return []


if __name__ == "__main__":  # `make ui`: prepare the instance folder before `dagster dev` reads it
    print(ensure_dagster_home(Paths.from_env()))
