"""What every page starts with: the current snapshot (or a clear message when nothing is published), the
role the app runs as, and the page's title with the snapshot's as-of time."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from dashboards.data import Snapshot, current_snapshot
from dashboards.roles import Role, current_role
from orchestration.settings import Paths


def snapshot_or_stop() -> Snapshot:
    snapshot = current_snapshot()
    if snapshot is None:
        st.info("Nothing is published yet: run `make run` (or `tollhouse load`) first.")
        st.stop()
    return snapshot


def page(title: str, *tables: str, needs: str = "") -> tuple[Snapshot, Role, Paths]:
    """Title the page, and return the snapshot, the role and the data paths; stop with a message when the
    snapshot lacks a table the page reads (`needs` says which run builds it)."""
    snapshot = snapshot_or_stop()
    st.title(title)
    st.caption(f"Snapshot {snapshot.as_of}.")
    missing = [t for t in tables if not snapshot.has(t)]
    if missing:
        st.info(f"This snapshot has no {', '.join(missing)} yet: {needs or 'run the pipeline first'}.")
        st.stop()
    return snapshot, current_role(), Paths.from_env()


def money(amount: object, currency: str = "") -> str:
    """An amount to the cent with thousands separators (Decimal, never float arithmetic)."""
    if amount is None:
        return "–"
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    return f"{value:,.2f} {currency}".strip()


def delta_pct(now: object, before: object) -> str | None:
    """The change from `before` to `now` in percent, for st.metric's delta (None without a base)."""
    if now is None or before is None or Decimal(str(before)) == 0:
        return None
    change = (Decimal(str(now)) - Decimal(str(before))) / abs(Decimal(str(before))) * 100
    return f"{change:+.1f} % vs previous month"
