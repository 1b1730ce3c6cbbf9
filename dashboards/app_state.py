"""What every page starts with: the current snapshot (or a clear message when nothing is published), the
role the app runs as, and the page's title with the snapshot's as-of time."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from dashboards.data import Snapshot, current_snapshot
from dashboards.roles import Role, current_role
from orchestration.billing.invoices.formatting import format_money
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


def blank(value: object) -> object:
    """None for a missing value, whatever shape pandas gave it (None, NaN, NaT, pd.NA)."""
    return None if value is None or (not isinstance(value, str | list | tuple | dict) and pd.isna(value)) else value


def money(amount: object, currency: object = "") -> str:
    """An amount as the invoices show it (to the cent, half-up, thousands separated); – when missing."""
    if blank(amount) is None:
        return "–"
    return f"{format_money(amount)} {blank(currency) or ''}".strip()


def delta_pct(now: object, before: object) -> str | None:
    """The change from `before` to `now` in percent, for st.metric's delta (None without a base)."""
    if now is None or before is None or Decimal(str(before)) == 0:
        return None
    change = (Decimal(str(now)) - Decimal(str(before))) / abs(Decimal(str(before))) * 100
    return f"{change:+.1f} % vs previous month"


def table(frame: pd.DataFrame, download: str | None = None, **options) -> None:
    """st.dataframe with every Decimal column shown at its own scale (money to the cent, per-call charges to
    six places), and a CSV download of the whole frame when `download` names the file."""
    config = {}
    for column in frame.columns:
        sample = frame[column].dropna()
        if len(sample) and isinstance(sample.iloc[0], Decimal):
            places = max(0, -sample.iloc[0].as_tuple().exponent)
            config[column] = st.column_config.NumberColumn(column, format=f"%.{places}f")
    st.dataframe(
        frame, hide_index=True, width="stretch", column_config={**config, **options.pop("column_config", {})}, **options
    )
    if download:
        st.download_button(
            f"Download {download.replace('_', ' ')} (CSV)", frame.to_csv(index=False), f"{download}.csv", "text/csv",
            key=f"download_{download}",
        )  # fmt: skip


def metric_row(metrics: dict[str, str | tuple[str, str | None]]) -> None:
    """One row of st.metric: label -> shown value, or (value, delta)."""
    for column, (label, shown) in zip(st.columns(len(metrics)), metrics.items(), strict=True):
        value, delta = shown if isinstance(shown, tuple) else (shown, None)
        column.metric(label, value, delta)


def percent(value: object, places: int) -> str:
    """A percentage to `places` decimals; – when missing."""
    return "–" if blank(value) is None else f"{value:.{places}f} %"
