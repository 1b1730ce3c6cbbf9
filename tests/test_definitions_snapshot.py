"""The Dagster definitions against a reviewed snapshot: every asset with its group, partitions, upstream assets (and
partition mapping where it is not the default) and checks, and every job, schedule and sensor.

A change to the graph (an asset renamed or moved to another group, a dependency lost, a check gone) fails here until
the snapshot is written again on purpose and the diff reviewed with the change:
`.venv/bin/python -m tests.test_definitions_snapshot` rewrites tests/snapshots/dagster_definitions.txt.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).parent / "snapshots" / "dagster_definitions.txt"


def _partitions_name(partitions_def: dg.PartitionsDefinition | None) -> str:
    from orchestration.pipeline.partitions import billing_months, delivery_days

    if partitions_def is None:
        return "unpartitioned"
    return {id(delivery_days): "delivery_days", id(billing_months): "billing_months"}.get(
        id(partitions_def), type(partitions_def).__name__
    )


def describe_definitions() -> str:
    """The definitions as stable text, one line per fact, sorted."""
    from orchestration.pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        name = key.to_user_string()
        kind = "external" if node.is_external else "asset"
        lines.append(f"{kind} {name} group={node.group_name} partitions={_partitions_name(node.partitions_def)}")
        for parent in sorted(node.parent_keys, key=lambda k: k.to_user_string()):
            mapping = node.partition_mappings.get(parent) if hasattr(node, "partition_mappings") else None
            suffix = f" mapping={mapping!r}" if mapping is not None else ""
            lines.append(f"  <- {parent.to_user_string()}{suffix}")
        for check in sorted(node.check_keys, key=lambda c: c.name):
            lines.append(f"  check {check.name}")
    repository = defs.get_repository_def()
    for job in sorted(repository.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        selected = sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)
        lines.append(f"job {job.name} partitions={_partitions_name(job.partitions_def)} assets={len(selected)}")
        lines += [f"  runs {key}" for key in selected]
    for schedule in sorted(repository.schedule_defs, key=lambda s: s.name):
        lines.append(
            f"schedule {schedule.name} cron={schedule.cron_schedule} job={schedule.job_name} "
            f"default={schedule.default_status.value}"
        )
    for sensor in sorted(repository.sensor_defs, key=lambda s: s.name):
        lines.append(f"sensor {sensor.name} default={sensor.default_status.value}")
    return "\n".join(lines) + "\n"


def test_the_dagster_definitions_match_the_reviewed_snapshot() -> None:
    current = describe_definitions()
    expected = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    assert current == expected, (
        "the Dagster definitions changed; review the difference and rewrite the snapshot with "
        "`.venv/bin/python -m tests.test_definitions_snapshot`"
    )


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    """Every asset upstream of `key`, however far."""
    found, stack = set(), [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in found:
                found.add(parent)
                stack.append(parent)
    return found


def test_the_graph_runs_from_landing_files_to_the_published_snapshot() -> None:
    """Every asset the snapshot publishes from reaches back to a raw (landing) asset: no hidden edge breaks the
    path from the files to the dashboards."""
    from orchestration.pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["serving", "snapshot"])).parent_keys
    assert upstream, "the published snapshot reads no asset"
    for key in upstream:
        assert any(a.path[0] == "raw" for a in _ancestors(graph, key)), (
            f"{key.to_user_string()} is not fed by any landing file"
        )


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(describe_definitions())
    sys.stdout.write(f"wrote {SNAPSHOT}\n")
