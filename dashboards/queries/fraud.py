"""Fraud: the alert queue (fct_fraud_alerts, with the analysts' decisions read live from the case store), the
reasons and drivers of an alert, and the account's hourly traffic around it (fct_fraud_account_hours)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from dashboards.data import Snapshot, query
from orchestration.assurance import alert_queue

TIMELINE_BEFORE = timedelta(days=3)
TIMELINE_AFTER = timedelta(days=1)


def queue(snapshot: Snapshot, store: Path) -> pd.DataFrame:
    """Every alert of the snapshot, most exposed first, with its decision from the case store (an alert the
    store has not filed yet is open)."""
    alerts = query(
        snapshot,
        """select alert_id, account_id, raised_at, last_trigger_at, exposure_eur, exposure_at_alert_eur, calls,
                  triggers, model_score, rules_hit, reasons, drivers, features_at_trigger, trigger_call_id
           from a order by exposure_eur desc, alert_id""",
        a="fct_fraud_alerts",
    )
    decided = {a.alert_id: a for a in alert_queue.fraud_alerts(store)} if store.exists() else {}
    alerts["status"] = [decided[i].status if i in decided else "open" for i in alerts["alert_id"]]
    alerts["decided_by"] = [decided[i].decided_by if i in decided else None for i in alerts["alert_id"]]
    alerts["note"] = [decided[i].note if i in decided else None for i in alerts["alert_id"]]
    return alerts


def totals(snapshot: Snapshot, first: datetime | None = None, last: datetime | None = None) -> dict:
    """Alerts raised in [first, last) and their exposure in EUR (all when unbounded)."""
    frame = query(
        snapshot,
        """select count(*) as alerts, coalesce(sum(exposure_eur), 0) as exposure_eur,
                  count(distinct account_id) as accounts
           from a where ($first is null or raised_at >= $first) and ($last is null or raised_at < $last)""",
        {"first": first, "last": last},
        a="fct_fraud_alerts",
    )
    return frame.iloc[0].to_dict()


def timeline(snapshot: Snapshot, account_id: str, around: datetime) -> pd.DataFrame:
    """The account's traffic per hour from three days before `around` to a day after: calls, cost (EUR),
    calls to high-risk ranges, peak concurrency."""
    return query(
        snapshot,
        """select hour_at, calls, cast(exposure_eur as double) as exposure_eur, high_risk_calls,
                  peak_concurrent_calls, off_hours_calls, new_destination_calls, distinct_countries
           from h where account_id = $account and hour_at >= $first and hour_at < $last order by hour_at""",
        {"account": account_id, "first": around - TIMELINE_BEFORE, "last": around + TIMELINE_AFTER},
        h="fct_fraud_account_hours",
    )


def by_day(snapshot: Snapshot, first: datetime, last: datetime) -> pd.DataFrame:
    """Alerts raised per day in [first, last) and their exposure in EUR (the overview's trend)."""
    return query(
        snapshot,
        """select raised_on as day, count(*) as alerts, cast(sum(exposure_eur) as double) as exposure_eur
           from a where raised_at >= $first and raised_at < $last group by 1 order by 1""",
        {"first": first, "last": last},
        a="fct_fraud_alerts",
    )
