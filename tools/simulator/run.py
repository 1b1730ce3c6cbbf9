"""`simulate`: build the fictional operator's world and write its landing zone and ground truth.

Each stage draws from its own random stream (seeded from the config seed and the stage name), so a
change in one stage does not reshuffle the others, and the same config gives byte-identical files.
"""

from __future__ import annotations

import shutil
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tools.simulator import faults as flt
from tools.simulator.billing_system import Leak, export_billing, price_calls
from tools.simulator.config import SimulationConfig, SimulationResult
from tools.simulator.finance import fx_files, tax_files
from tools.simulator.fraud import add_fraud, incident_rows
from tools.simulator.groundtruth import (
    write_calls,
    write_fraud_incidents,
    write_injections,
    write_leakage,
    write_manifest,
    write_payments,
)
from tools.simulator.leakage.families import apply_families
from tools.simulator.numbering import RATE_PREFIXES
from tools.simulator.output import Landing
from tools.simulator.payments import Payment, billable_periods, payment_files
from tools.simulator.records import FILLER, NORMAL, FileTable, Records, expand, line_numbers, place
from tools.simulator.reference import SWITCHES, World, build_world
from tools.simulator.render import Renderer, caller_name_index
from tools.simulator.tariffs import (
    MISPRICED_RATE,
    NEGATIVE_MARGIN,
    catalog_files,
    deck_prefixes,
    vendor_files,
)
from tools.simulator.timeline import Timeline, ZoneClock, build_timeline, epoch, iso_utc
from tools.simulator.traffic import Calls, generate_calls
from tools.simulator.vendor_invoices import (
    carried_calls,
    invoice_periods,
    price_vendor_calls,
    vendor_invoice_files,
)
from tools.simulator.writers import LineBuffer, write_switch_files


def _stream(seed: int, stage: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(stage.encode())])))


@dataclass
class _Placed:
    """Records sorted into files, with the faults that act on lines and files."""

    records: Records
    files: FileTable
    file_of: np.ndarray  # file index per sorted record
    line_no: np.ndarray  # physical line per sorted record
    first_position: np.ndarray  # per call: sorted position of its first record
    patches: dict[int, flt.Patch]
    file_faults: flt.FileFaults
    injections: list[flt.Group]  # record-level injections, as sorted positions


def simulate(config: SimulationConfig, progress: Callable[[str], None] | None = None) -> SimulationResult:
    say = progress or (lambda _message: None)
    landing_dir, truth_dir = config.out / "landing", config.out / "ground_truth"
    for folder in (landing_dir, truth_dir):  # a fresh world; nothing else under `out` is touched
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    landing = Landing(landing_dir)

    timeline = build_timeline(config)
    world = build_world(config.accounts, timeline, _stream(config.seed, "world"))
    prefixes = (
        deck_prefixes(config.deck_prefixes, _stream(config.seed, "deck")) if config.deck_prefixes else RATE_PREFIXES
    )
    reference = (
        world.files
        + catalog_files(world, timeline, _stream(config.seed, "catalog"), prefixes, config.split_bands)
        + vendor_files(timeline, _stream(config.seed, "vendor"), prefixes)
        + tax_files(timeline)
    )
    say(f"reference: {len(world.accounts)} accounts, {len(world.trunks.ids)} trunks, {len(world.dids.geo)} DIDs")

    calls = generate_calls(world, timeline, config.calls_per_day, _stream(config.seed, "traffic"))
    calls, fraud_of, incidents = add_fraud(calls, world, timeline, config.fraud, _stream(config.seed, "fraud"))
    say(f"traffic: {len(calls):,} calls from {timeline.start} to {timeline.end - timedelta(days=1)}")
    say(f"fraud ({config.fraud} mix): {len(incidents)} incidents, {int((fraud_of >= 0).sum()):,} calls")
    ledger = flt.Ledger()
    touched = (  # the last change to the true calls: every later stage only reads them
        flt.inject_call_faults(calls, world, timeline, _stream(config.seed, "call-faults"), ledger)
        if config.inject_faults
        else np.zeros(len(calls), bool)
    )
    for ref in reference:
        landing.write_ref(ref)
    with ThreadPoolExecutor(max_workers=1) as pool:  # pricing needs no switch file: it runs while they are made
        say("billing system of record: pricing the calls it could bill, while the switch files are made")
        # every month simulated: the months billed (`periods`, known once the files are placed) come first
        pricing = pool.submit(price_calls, world, calls, timeline.month_starts, landing_dir / "catalog")
        vendor_pricing = pool.submit(price_vendor_calls, calls, landing_dir / "vendor")  # the vendors' side
        placed = _place(config, timeline, world, calls, touched, ledger)
        say(f"records: {len(placed.records):,} in {len(placed.files):,} hourly switch files")
        last_day = max(  # FX for every day anything is delivered
            timeline.end - timedelta(days=1),
            placed.files.delivered_day(int(np.argmax(placed.files.delivered))),
            *(r.day for r in reference),
            *placed.file_faults.redeliveries.values(),
        )
        for ref in fx_files(timeline.start, last_day, _stream(config.seed, "fx")):
            landing.write_ref(ref)
        wanted = np.concatenate(
            [np.zeros(0, np.int64)] + [g.index for g in placed.injections] + [c[2] for c in ledger.copies]
        )
        periods = billable_periods(timeline, last_day)
        written, key_of, call_keys = _write_cdrs(
            config, timeline, world, calls, placed, landing, np.unique(wanted), say
        )
        priced = pricing.result()
    injection_rows = _injection_rows(placed, ledger, key_of)
    lost = _lost_calls(injection_rows, len(calls))
    carried = carried_calls(vendor_pricing.result(), lost)
    pq.write_table(carried, truth_dir / "vendor_calls.parquet")
    for ref in vendor_invoice_files(carried, invoice_periods(timeline.month_starts, last_day)):
        landing.write_ref(ref)
    rec = placed.records
    with ThreadPoolExecutor(max_workers=1) as pool:  # the true calls (Parquet) are written while the BSS bills
        calls_written = pool.submit(
            write_calls,
            truth_dir / "calls.parquet",
            calls,
            world,
            call_keys,
            np.bincount(rec.call[rec.kind == NORMAL], minlength=len(calls)),
            placed.file_of[placed.first_position],
            placed.files.paths(),
            placed.line_no[placed.first_position],
            fraud_of,
        )
        leaks, invoiced = (
            export_billing(
                priced, world, calls, call_keys, lost, landing, periods,
                _stream(config.seed, "billing-system"),
            )
            if periods else ([], {})
        )  # fmt: skip
        calls_written.result()
    say(f"billing export: {len(invoiced)} invoices, {len(leaks)} leaks injected")
    never_pay = {world.accounts.ids[i.accounts[0]] for i in incidents if i.kind == "subscription_fraud"}
    payment_refs, payments = payment_files(
        world, timeline, invoiced, last_day, _stream(config.seed, "payments"), never_pay
    )
    for ref in payment_refs:
        landing.write_ref(ref)
    say(f"payments: {sum(p.received is not None for p in payments)} for {len(payments)} invoices")

    say("ground truth")
    injections = write_injections(truth_dir / "injections.csv", injection_rows)
    write_fraud_incidents(truth_dir / "fraud_incidents.csv", incident_rows(incidents, calls, fraud_of, world))
    write_payments(truth_dir / "payments.csv", payments)
    write_leakage(truth_dir / "leakage.csv", leaks)
    # last: the families change what was written above, as a fault in the field would
    apply_families(config.leakage, landing_dir, truth_dir, world, timeline, lambda s: _stream(config.seed, s))
    result = SimulationResult(landing_dir, truth_dir, len(calls), landing.files, written, len(injections))
    manifest = _manifest(config, timeline, result, landing, injections, payments, leaks, incidents)
    write_manifest(truth_dir / "manifest.json", manifest)
    say(f"wrote {landing.files:,} files, {written:,} CDR lines, {len(injections):,} injections")
    return result


def _place(
    config: SimulationConfig, timeline: Timeline, world: World, calls: Calls, touched: np.ndarray, ledger: flt.Ledger
) -> _Placed:
    """Records from calls (`touched`: those a call fault changed), faults at the record, line and file
    stages, and the sort into files and lines."""
    seed, faulty = config.seed, config.inject_faults
    records = expand(calls)
    window = (timeline.start - timedelta(days=3), timeline.end + timedelta(days=3))
    clocks = {i: ZoneClock.build(SWITCHES[i].timezone, *window) for i in (0, 1)}  # the local-time switches
    filler_text: dict[int, bytes] = {}
    if faulty:
        records, filler_text = flt.inject_record_faults(
            records, calls, touched, timeline, clocks, _stream(seed, "record-faults"), ledger
        )
    records, order, files, file_of = place(records, timeline.start, _stream(seed, "files"))
    position_of = np.empty(len(order), np.int64)
    position_of[order] = np.arange(len(order))

    # DST is the calendar's doing, not a fault: recorded whether or not faults are injected.
    dst = np.flatnonzero(flt.dst_ambiguous(records, clocks))
    ledger.positions("dst_ambiguous", dst, [_dst_detail(records, int(p), clocks) for p in dst])
    patches = {int(position_of[r]): flt.Patch("replace", text=t) for r, t in filler_text.items()}
    file_faults = flt.FileFaults()
    if faulty:
        names = caller_name_index(calls)
        patches |= flt.inject_line_faults(records, calls, names, touched, _stream(seed, "line-faults"), ledger)
        busy = touched[records.call] | (records.kind != NORMAL)
        busy_files = np.bincount(file_of, weights=busy, minlength=len(files)) > 0
        file_faults = flt.inject_file_faults(
            files, file_of, busy_files, timeline, len(calls), _stream(seed, "file-faults"), ledger
        )

    first = (records.kind == NORMAL) & (records.part <= 1)
    first_position = np.full(len(calls), -1, np.int64)
    first_position[records.call[first]] = np.flatnonzero(first)
    return _Placed(
        records=records,
        files=files,
        file_of=file_of,
        line_no=line_numbers(records.switch, file_of, files),
        first_position=first_position,
        patches=patches,
        file_faults=file_faults,
        injections=ledger.to_positions(first_position, position_of),
    )


def _write_cdrs(
    config: SimulationConfig,
    timeline: Timeline,
    world: World,
    calls: Calls,
    placed: _Placed,
    landing: Landing,
    wanted: np.ndarray,
    say: Callable[[str], None],
) -> tuple[int, dict[int, str], pa.Array]:
    """Render and write each switch's files.

    Returns the CDR lines written, the record key at each `wanted` position and each call's record key.
    """
    renderer = Renderer(calls, world, timeline, placed.files)
    files, written = placed.files, 0
    key_of: dict[int, str] = {}
    call_keys = pa.nulls(len(calls), pa.large_string())
    for s, switch in enumerate(SWITCHES):
        mine = np.flatnonzero(files.switch == s)
        if len(mine) == 0:
            continue
        lo, hi = int(files.first[mine[0]]), int(files.first[mine[-1]] + files.count[mine[-1]])
        say(f"{switch.switch_id}: rendering {hi - lo:,} records")
        records = placed.records.take(slice(lo, hi))
        lines, keys = renderer.render(s, records, placed.file_of[lo:hi], _stream(config.seed, f"render-{s}"))
        written += write_switch_files(landing, s, files, LineBuffer(lines), lo, placed.patches, placed.file_faults)
        here = wanted[(wanted >= lo) & (wanted < hi)]
        key_of |= dict(zip(here.tolist(), keys.take(pa.array(here - lo)).to_pylist(), strict=True))
        of_switch = calls.switch == s
        mine_keys = keys.take(pa.array(placed.first_position[of_switch] - lo))
        call_keys = pc.replace_with_mask(call_keys, pa.array(of_switch), mine_keys)
        del lines, keys
    return written, key_of, call_keys


def _injection_rows(placed: _Placed, ledger: flt.Ledger, key_of: dict[int, str]) -> list[flt.Injection]:
    records, paths = placed.records, placed.files.paths()
    rows = list(ledger.rows)
    for group in placed.injections:
        for position, detail in zip(group.index.tolist(), group.detail, strict=True):
            filler = records.kind[position] == FILLER  # garbage and blank lines: no record, no call
            rows.append(
                flt.Injection(
                    kind=group.kind,
                    source=SWITCHES[int(records.switch[position])].source,
                    file=paths[placed.file_of[position]],
                    line_no=int(placed.line_no[position]),
                    record_key="" if filler else key_of[position],
                    call_id=None if filler else int(records.call[position]) + 1,
                    detail=detail,
                )
            )
    for kind, path, positions, detail in ledger.copies:
        for k, position in enumerate(positions.tolist()):
            call_id = int(records.call[position]) + 1
            rows.append(flt.Injection(kind, "asterisk", path, k + 1, key_of[position], call_id, detail))
    return rows


def _lost_calls(injections: list[flt.Injection], n_calls: int) -> np.ndarray:
    """Per true call: mediation never passes it on (a line of it rejected, or the call held in suspense),
    so no billing system sees it."""
    lost = np.zeros(n_calls, bool)
    stage = ("reject", "suspense")
    gone = [i.call_id - 1 for i in injections if i.call_id and i.expected_effect.split(":")[0] in stage]
    lost[np.array(gone, np.int64)] = True
    return lost


def _dst_detail(records: Records, position: int, clocks: dict[int, ZoneClock]) -> str:
    clock = clocks[int(records.switch[position])]
    start = int(records.start_s[position])
    local = iso_utc(int(clock.local(np.array([start]))[0]))[:19].replace("T", " ")
    return f"local start {local} in {clock.zone}; true start {iso_utc(start)}"


def _manifest(
    config: SimulationConfig,
    timeline: Timeline,
    result: SimulationResult,
    landing: Landing,
    injections: list,
    payments: list[Payment],
    leaks: list[Leak],
    incidents: list,
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
            "mispriced_rate": {
                "rate_plan_id": MISPRICED_RATE[0],
                "prefix": MISPRICED_RATE[1],
                "valid_from": timeline.rate_change_day,
                "factor": str(MISPRICED_RATE[2]),
            },
        },
        "counts": {
            "calls": result.calls,
            "cdr_lines": result.records,
            "files": result.files,
            "files_by_source": dict(sorted(landing.by_source.items())),
            "injections": result.injections,
            "injections_by_kind": dict(sorted(Counter(i.kind for i in injections).items())),
            "payments_by_kind": dict(sorted(Counter(p.kind for p in payments).items())),
            "leaks_by_kind": dict(sorted(Counter(leak.kind for leak in leaks).items())),
            "fraud_incidents_by_kind": dict(sorted(Counter(i.kind for i in incidents).items())),
        },
    }
