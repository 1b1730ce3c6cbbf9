"""`simulate`: build the fictional operator's world and write its landing zone and ground truth.

Each stage draws from its own random stream (seeded from the config seed and the stage name), so a
change in one stage does not reshuffle the others, and the same config gives byte-identical files.
"""

from __future__ import annotations

import shutil
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta

import numpy as np
import pyarrow as pa

from orchestration.simulator import faults as flt
from orchestration.simulator.config import SimulationConfig, SimulationResult
from orchestration.simulator.finance import fx_files, tax_files
from orchestration.simulator.groundtruth import write_calls, write_injections, write_manifest
from orchestration.simulator.output import Landing
from orchestration.simulator.records import NORMAL, expand, line_numbers, place
from orchestration.simulator.reference import SWITCHES, build_world
from orchestration.simulator.render import Renderer, caller_name_index
from orchestration.simulator.tariffs import NEGATIVE_MARGIN, catalog_files, vendor_files
from orchestration.simulator.timeline import Timeline, ZoneClock, build_timeline, epoch, iso_utc
from orchestration.simulator.traffic import generate_calls
from orchestration.simulator.writers import LineBuffer, write_switch_files


def _stream(seed: int, stage: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(stage.encode())])))


def simulate(config: SimulationConfig, progress: Callable[[str], None] | None = None) -> SimulationResult:
    say = progress or (lambda _message: None)
    landing_dir, truth_dir = config.out / "landing", config.out / "ground_truth"
    for folder in (landing_dir, truth_dir):  # a fresh world; nothing else under `out` is touched
        if folder.exists():
            shutil.rmtree(folder)
    landing_dir.mkdir(parents=True)
    truth_dir.mkdir(parents=True)
    landing = Landing(landing_dir)

    timeline = build_timeline(config)
    world = build_world(config.accounts, timeline, _stream(config.seed, "world"))
    reference = (
        world.files
        + catalog_files(world, timeline, _stream(config.seed, "catalog"))
        + vendor_files(timeline, _stream(config.seed, "vendor"))
        + tax_files(timeline)
    )
    say(f"reference: {len(world.accounts)} accounts, {len(world.trunks.ids)} trunks, {len(world.dids.geo)} DIDs")

    calls = generate_calls(world, timeline, config.calls_per_day, _stream(config.seed, "traffic"))
    say(f"traffic: {len(calls):,} calls from {timeline.start} to {timeline.end - timedelta(days=1)}")
    ledger = flt.Ledger()
    touched = np.zeros(len(calls), bool)
    if config.inject_faults:
        touched = flt.inject_call_faults(calls, world, timeline, _stream(config.seed, "call-faults"), ledger)

    records = expand(calls)
    clocks = {
        i: ZoneClock.build(SWITCHES[i].timezone, timeline.start - timedelta(days=3), timeline.end + timedelta(days=3))
        for i in (0, 1)
    }
    filler_text: dict[int, bytes] = {}
    if config.inject_faults:
        records, filler_text = flt.inject_record_faults(
            records, calls, touched, timeline, clocks, _stream(config.seed, "record-faults"), ledger
        )
    records, order, files, file_of = place(records, timeline.start, _stream(config.seed, "files"))
    position_of = np.empty(len(order), np.int64)
    position_of[order] = np.arange(len(order))
    lines_no = line_numbers(records.switch, file_of, files)
    say(f"records: {len(records):,} in {len(files):,} hourly switch files")

    dst = np.flatnonzero(flt.dst_ambiguous(records, clocks))
    ledger.positions("dst_ambiguous", dst, [_dst_detail(records, int(p), clocks) for p in dst])
    names = caller_name_index(calls)
    patches = {int(position_of[r]): flt.Patch("replace", text=t) for r, t in filler_text.items()}
    file_faults = flt.FileFaults()
    if config.inject_faults:
        patches |= flt.inject_line_faults(records, calls, names, touched, _stream(config.seed, "line-faults"), ledger)
        busy = np.bincount(file_of, weights=touched[records.call] | (records.kind != NORMAL), minlength=len(files)) > 0
        file_faults = flt.inject_file_faults(
            files, file_of, busy, timeline, len(calls), _stream(config.seed, "file-faults"), ledger
        )

    # Reference data, then FX for every day anything is delivered.
    for ref in reference:
        landing.write_ref(ref)
    last_day = max(
        timeline.end - timedelta(days=1),
        files.delivered_day(int(np.argmax(files.delivered))),
        *(r.day for r in reference),
        *file_faults.redeliveries.values(),
    )
    for ref in fx_files(timeline.start, last_day, _stream(config.seed, "fx")):
        landing.write_ref(ref)

    first_record = (records.kind == NORMAL) & (records.part <= 1)
    first_position = np.full(len(calls), -1, np.int64)
    first_position[records.call[first_record]] = np.flatnonzero(first_record)
    record_count = np.bincount(records.call[records.kind == NORMAL], minlength=len(calls))
    groups = ledger.to_positions(first_position, position_of)
    wanted = np.unique(np.concatenate([g.index for g in groups] + [c[2] for c in ledger.copies] + [np.zeros(0)]))
    wanted = wanted.astype(np.int64)

    renderer = Renderer(calls, world, timeline, files)
    key_of: dict[int, str] = {}
    call_keys: list[tuple[np.ndarray, pa.Array]] = []
    written = 0
    for s, switch in enumerate(SWITCHES):
        mine = np.flatnonzero(files.switch == s)
        if len(mine) == 0:
            continue
        lo, hi = int(files.first[mine[0]]), int(files.first[mine[-1]] + files.count[mine[-1]])
        say(f"{switch.switch_id}: rendering {hi - lo:,} records")
        lines, keys = renderer.render(
            s, records.take(slice(lo, hi)), file_of[lo:hi], _stream(config.seed, f"render-{s}")
        )
        written += write_switch_files(landing, s, files, LineBuffer(lines), lo, patches, file_faults)
        here = wanted[(wanted >= lo) & (wanted < hi)]
        key_of |= dict(zip(here.tolist(), keys.take(pa.array(here - lo)).to_pylist(), strict=True))
        of_switch = np.flatnonzero(calls.switch == s)
        call_keys.append((of_switch, keys.take(pa.array(first_position[of_switch] - lo))))
        del lines, keys

    say("ground truth")
    paths = files.paths()
    injections = list(ledger.rows)
    for g in groups:
        for position, detail in zip(g.index.tolist(), g.detail, strict=True):
            filler = records.kind[position] != NORMAL and g.kind in ("malformed_line", "blank_line")
            injections.append(
                flt.Injection(
                    g.kind,
                    SWITCHES[int(records.switch[position])].source,
                    paths[file_of[position]],
                    int(lines_no[position]),
                    "" if filler else key_of[position],
                    None if filler else int(records.call[position]) + 1,
                    detail,
                )
            )
    for kind, path, positions, detail in ledger.copies:
        for k, position in enumerate(positions.tolist()):
            injections.append(
                flt.Injection(kind, "asterisk", path, k + 1, key_of[position], int(records.call[position]) + 1, detail)
            )
    injections = write_injections(truth_dir / "injections.csv", injections)

    call_order = np.concatenate([c[0] for c in call_keys])
    record_key = pa.concat_arrays([c[1] for c in call_keys]).take(pa.array(np.argsort(call_order, kind="stable")))
    write_calls(
        truth_dir / "calls.parquet",
        calls,
        world,
        record_key,
        record_count,
        file_of[first_position],
        paths,
        lines_no[first_position],
    )
    result = SimulationResult(landing_dir, truth_dir, len(calls), landing.files, written, len(injections))
    write_manifest(truth_dir / "manifest.json", _manifest(config, timeline, result, landing, injections))
    say(f"wrote {landing.files:,} files, {written:,} CDR lines, {len(injections):,} injections")
    return result


def _dst_detail(records, position: int, clocks: dict[int, ZoneClock]) -> str:
    clock = clocks[int(records.switch[position])]
    start = int(records.start_s[position])
    local = iso_utc(int(clock.local(np.array([start]))[0]))[:19].replace("T", " ")
    return f"local start {local} in {clock.zone}; true start {iso_utc(start)}"


def _manifest(
    config: SimulationConfig, timeline: Timeline, result: SimulationResult, landing: Landing, injections: list
) -> dict:
    settings = {k: v for k, v in asdict(config).items() if k != "out"}  # the output folder is not content
    late = [asdict(e) for e in timeline.late_assignments]
    return {
        "config": settings,
        "period": {"start": timeline.start, "end_exclusive": timeline.end},
        "switches": [asdict(s) for s in SWITCHES],
        "events": {
            "asterisk_upgrade_utc": iso_utc(epoch(timeline.upgrade_day)),
            "rate_change_day": timeline.rate_change_day,
            "promotion_end_day": timeline.promo_end_day,
            "trunk_move_day": timeline.trunk_move_day,
            "plan_switch_day": timeline.plan_switch_day,
            "activation_days": list(timeline.activation_days),
            "cancellation_days": list(timeline.cancellation_days),
            "late_assignments": late,
            "clock_skew": {
                "switch_id": timeline.skew_switch_id,
                "from_utc": iso_utc(timeline.skew_from),
                "to_utc": iso_utc(timeline.skew_to),
                "offset_seconds": timeline.skew_offset,
            },
            "negative_margin": {"vendor_id": NEGATIVE_MARGIN[0], "prefix": NEGATIVE_MARGIN[1]},
        },
        "counts": {
            "calls": result.calls,
            "cdr_lines": result.records,
            "files": result.files,
            "files_by_source": dict(sorted(landing.by_source.items())),
            "injections": result.injections,
            "injections_by_kind": dict(sorted(Counter(i.kind for i in injections).items())),
        },
    }
