"""The fraud alert queue (docs/fraud.md): the alerts dbt raises (marts.fct_fraud_alerts), filed in the case store
beside the revenue-assurance cases so that analysts' decisions survive every run, and confirmed, dismissed or
reopened there. The decisions are the labels of the next model training."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

# the case store's own connection, stamps and money text: one store, one way to write it
from orchestration.assurance.cases import SYNC_ACTOR, CaseError, _clean, _stamp, _text, _time, _transaction, _who

if TYPE_CHECKING:
    import duckdb

ALERT_DECISIONS = ("confirmed", "dismissed", "open")  # open: a decision taken back


@dataclass(frozen=True)
class FraudAlert:
    alert_id: str
    account_id: str
    raised_at: datetime
    last_trigger_at: datetime
    exposure_eur: Decimal
    rules_hit: tuple[str, ...]
    model_score: float | None
    status: str = "open"
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


def read_fraud_alerts(con: duckdb.DuckDBPyConnection) -> list[FraudAlert]:
    rows = con.execute(
        "select alert_id, account_id, raised_at, last_trigger_at, exposure_eur, rules_hit, model_score "
        "from marts.fct_fraud_alerts order by alert_id"
    ).fetchall()
    return [FraudAlert(r[0], r[1], r[2], r[3], r[4], tuple(r[5] or ()), r[6]) for r in rows]


def sync_fraud_alerts(store_path: Path, alerts: Iterable[FraudAlert], now: datetime | None = None) -> int:
    """File new alerts (status open) and refresh what the pipeline owns of known ones (last trigger,
    exposure, rules, score); decisions are never touched. Returns the alerts filed for the first time."""
    at, filed = _stamp(now), 0
    with _transaction(store_path, write=True) as con:
        for alert in alerts:
            values = [_stamp(alert.last_trigger_at), _text(alert.exposure_eur), json.dumps(list(alert.rules_hit)),
                      alert.model_score, alert.alert_id]  # fmt: skip
            if con.execute("select 1 from fraud_alerts where alert_id = ?", [alert.alert_id]).fetchone():
                con.execute(
                    "update fraud_alerts set last_trigger_at = ?, exposure_eur = ?, rules_hit = ?, model_score = ? "
                    "where alert_id = ?",
                    values,
                )
                continue
            con.execute(
                "insert into fraud_alerts (last_trigger_at, exposure_eur, rules_hit, model_score, alert_id, "
                "account_id, raised_at, status, filed_at) values (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                [*values, alert.account_id, _stamp(alert.raised_at), at],
            )
            con.execute(
                "insert into fraud_alert_events (alert_id, at, actor, action) values (?, ?, ?, 'filed')",
                [alert.alert_id, at, SYNC_ACTOR],
            )
            filed += 1
    return filed


def decide_alert(
    store_path: Path, alert_id: str, decision: str, actor: str, note: str | None = None, now: datetime | None = None
) -> FraudAlert:
    """Confirm or dismiss an alert (or take the decision back: open), with the actor and an optional note."""
    if decision not in ALERT_DECISIONS:
        raise CaseError(f"decision must be one of {', '.join(ALERT_DECISIONS)}, got {decision!r}")
    at, who, note = _stamp(now), _who(actor), _clean(note)
    with _transaction(store_path, write=True) as con:
        row = con.execute("select status from fraud_alerts where alert_id = ?", [alert_id]).fetchone()
        if row is None:
            raise CaseError(f"no fraud alert {alert_id}")
        if row[0] == decision:
            raise CaseError(f"alert {alert_id} is already {decision}")
        decided = (None, None) if decision == "open" else (who, at)
        con.execute(
            "update fraud_alerts set status = ?, decided_by = ?, decided_at = ?, note = coalesce(?, note) "
            "where alert_id = ?",
            [decision, *decided, note, alert_id],
        )
        action = "reopened" if decision == "open" else decision
        con.execute(
            "insert into fraud_alert_events (alert_id, at, actor, action, note) values (?, ?, ?, ?, ?)",
            [alert_id, at, who, action, note],
        )
    return fraud_alerts(store_path, alert_id=alert_id)[0]


def fraud_alerts(store_path: Path, status: str | None = None, alert_id: str | None = None) -> list[FraudAlert]:
    """Filed alerts, most exposed first; `status` or `alert_id` narrow them."""
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if alert_id:
        where.append("alert_id = ?")
        params.append(alert_id)
    sql = (
        "select alert_id, account_id, raised_at, last_trigger_at, exposure_eur, rules_hit, model_score, status, "
        "decided_by, decided_at, note from fraud_alerts" + (" where " + " and ".join(where) if where else "")
    )
    with _transaction(store_path, write=False) as con:
        rows = con.execute(sql, params).fetchall()
    alerts = [
        FraudAlert(
            r[0],
            r[1],
            _time(r[2]),
            _time(r[3]),
            Decimal(r[4]),
            tuple(json.loads(r[5])),
            r[6],
            r[7],
            r[8],
            _time(r[9]),
            r[10],
        )
        for r in rows
    ]
    return sorted(alerts, key=lambda a: (-a.exposure_eur, a.alert_id))
