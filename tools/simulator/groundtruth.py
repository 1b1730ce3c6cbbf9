"""Ground truth, written beside (never inside) the landing zone.

- calls.parquet: one row per true call, with where its (first) record was written;
- injections.csv: one row per injected fault, with the file, line and record it lives in;
- payments.csv: one row per account and billed month, paid or not: the customer's estimate of the invoice, the
  payment's kind (payment_full, _partial, _missing, _on_account, _late), and the file and line it landed in;
- leakage.csv: one row per leak injected into the billing system's export (billing_system.py): kind, account,
  period, the call (source, record key, true call id) or subscription, expected and billed amount, leakage amount
  and direction;
- fraud_incidents.csv: one row per fraud incident (fraud.py): kind, accounts, first call start and last call end,
  calls; calls.parquet's fraud_incident_id names each fraud call's incident;
- manifest.json: the config, the period's events and the counts. No wall-clock time anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tools.simulator.billing_system import LEAK_KINDS, LEAKAGE_COLUMNS, Leak
from tools.simulator.faults import KINDS, Injection
from tools.simulator.fraud import INCIDENT_COLUMNS, incident_id
from tools.simulator.numbering import COUNTRIES
from tools.simulator.output import csv_bytes
from tools.simulator.payments import PAYMENT_COLUMNS, Payment
from tools.simulator.reference import SWITCHES, World
from tools.simulator.tariffs import ROUTES
from tools.simulator.traffic import CALL_TYPES, DISPOSITIONS, INBOUND, US, Calls

INJECTION_COLUMNS = (
    "injection_id",
    "kind",
    "source",
    "file",
    "line_no",
    "record_key",
    "call_id",
    "expected_effect",
    "detail",
)


def _dictionary(codes: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    """values[codes] as a dictionary column; code -1 is null."""
    codes = np.asarray(codes, np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), pa.array(values, pa.string()))


def _utc(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds * US, pa.timestamp("us", tz="UTC"), mask=seconds < 0)


def write_calls(
    path: Path,
    calls: Calls,
    world: World,
    record_key: pa.Array,
    record_count: np.ndarray,
    file_index: np.ndarray,
    file_paths: list[str],
    line_no: np.ndarray,
    fraud_of: np.ndarray,
) -> None:
    start, answer, end = calls.seconds()
    incident_ids = [incident_id(i) for i in range(int(fraud_of.max(initial=-1)) + 1)]
    table = pa.table(
        {
            "call_id": pa.array(np.arange(1, len(calls) + 1, dtype=np.int64)),
            "source": _dictionary(calls.switch, [s.source for s in SWITCHES]),
            "switch_id": _dictionary(calls.switch, [s.switch_id for s in SWITCHES]),
            "account_id": _dictionary(calls.account, world.accounts.ids),
            "trunk_id": _dictionary(calls.trunk, world.trunks.ids),
            "a_number": pc.cast(pa.array(calls.a_number), pa.string()),
            "b_number": pc.cast(pa.array(calls.b_number), pa.string()),
            "start_at": _utc(start),
            "answer_at": _utc(answer),
            "end_at": _utc(end),
            "billable_seconds": pa.array(np.where(answer >= 0, end - answer, 0).astype(np.int32)),
            "duration_seconds": pa.array((end - start).astype(np.int32)),
            "disposition": _dictionary(calls.disposition, list(DISPOSITIONS)),
            "q850_cause": pa.array(calls.cause),
            "call_type": _dictionary(calls.call_type, list(CALL_TYPES)),
            "direction": _dictionary((calls.call_type == INBOUND).astype(np.int32), ["outbound", "inbound"]),
            "destination_country": _dictionary(calls.b_country, list(COUNTRIES)),
            "route_id": _dictionary(calls.route, [r[0] for r in ROUTES]),
            "record_key": record_key,
            "record_count": pa.array(record_count.astype(np.int16)),
            "file": _dictionary(file_index, file_paths),
            "line_no": pa.array(line_no.astype(np.int32)),
            "fraud_incident_id": _dictionary(fraud_of, incident_ids),
        }
    )
    pq.write_table(table, path, compression="zstd", row_group_size=1_000_000)


def write_injections(path: Path, injections: list[Injection]) -> list[Injection]:
    """Rows in a stable order (kind, file, line), numbered INJ-000001..."""
    order = {kind: i for i, kind in enumerate(KINDS)}
    rows = sorted(injections, key=lambda r: (order[r.kind], r.file, r.line_no or 0, r.record_key))
    body = [
        (
            f"INJ-{i + 1:06d}",
            r.kind,
            r.source,
            r.file,
            "" if r.line_no is None else str(r.line_no),
            r.record_key,
            "" if r.call_id is None else str(r.call_id),
            r.expected_effect,
            r.detail,
        )
        for i, r in enumerate(rows)
    ]
    path.write_bytes(csv_bytes(INJECTION_COLUMNS, body))
    return rows


def write_manifest(path: Path, manifest: dict) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def write_fraud_incidents(path: Path, rows: list[tuple]) -> None:
    path.write_bytes(csv_bytes(INCIDENT_COLUMNS, rows))


def write_payments(path: Path, payments: list[Payment]) -> None:
    """Rows in (billing period, account) order."""
    rows = sorted(payments, key=lambda p: (p.period, p.account_id))
    path.write_bytes(csv_bytes(PAYMENT_COLUMNS, [p.truth_row() for p in rows]))


def write_leakage(path: Path, leaks: list[Leak]) -> None:
    """Rows in (kind, period, account, call or subscription) order, numbered LEAK-000001..."""
    order = {kind: i for i, kind in enumerate(LEAK_KINDS)}
    rows = sorted(leaks, key=lambda r: (order[r.kind], r.period, r.account_id, r.call_id or 0, r.subscription_id))
    path.write_bytes(csv_bytes(LEAKAGE_COLUMNS, [r.row(i + 1) for i, r in enumerate(rows)]))
