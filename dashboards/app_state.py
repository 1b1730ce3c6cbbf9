"""What every page starts with: the current snapshot (or a clear message when nothing is published), the
role the app runs as, and the page's title with the snapshot's as-of time."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import streamlit as st

from dashboards.data import Snapshot, current_snapshot
from dashboards.glossary import column_help, glossary, label
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
    glossary(title.lower().replace(" ", "_"))  # the terms this page's figures use
    missing = [t for t in tables if not snapshot.has(t)]
    if missing:
        st.info(f"This snapshot has no {', '.join(missing)} yet: {needs or 'run the pipeline first'}.")
        st.stop()
    return snapshot, current_role(), Paths.from_env()


def follow_link(param: str, key: str, offered: list, many: bool = False) -> None:
    """Open the page on what its link names (?invoice=..., ?account=...): put the query parameter's value into
    the widget `key` before it is drawn, once per link, and only when the widget offers it."""
    wanted = st.query_params.get(param)
    if wanted is None or st.session_state.get(f"_linked_{key}") == wanted or wanted not in offered:
        return
    st.session_state[f"_linked_{key}"] = wanted
    st.session_state[key] = [wanted] if many else wanted


def link_to(param: str, key: str, value: str) -> None:
    """Keep the address bar on what the widget `key` shows (?param=value), so it can be copied; recorded as
    followed, so the next rerun does not take it for a new link and undo a person's next choice."""
    st.query_params[param] = value
    st.session_state[f"_linked_{key}"] = value


def blank(value: object) -> object:
    """None for a missing value, whatever shape pandas gave it (None, NaN, NaT, pd.NA)."""
    return None if value is None or (not isinstance(value, str | list | tuple | dict) and pd.isna(value)) else value


def money(amount: object, currency: object = "") -> str:
    """An amount as the invoices show it (to the cent, half-up, thousands separated); – when missing."""
    if blank(amount) is None:
        return MISSING
    return f"{format_money(amount)} {blank(currency) or ''}".strip()


def delta_pct(now: object, before: object) -> str | None:
    """The change from `before` to `now` in percent, for st.metric's delta (None without a base)."""
    if now is None or before is None or Decimal(str(before)) == 0:
        return None
    change = (Decimal(str(now)) - Decimal(str(before))) / abs(Decimal(str(before))) * 100
    return f"{change:+.1f} % vs previous month"


MISSING = "—"  # what a missing value shows as, everywhere (never "None" or "nan")
CURRENCY_DECIMALS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}  # ISO 4217 minor units; else 2


def currency_decimals(currency: object) -> int:
    return CURRENCY_DECIMALS.get(str(currency or "").upper(), 2)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str | list | tuple | dict | np.ndarray):
        return False
    return bool(pd.isna(value))


def _text(value: object, places: int | None = None) -> str:
    """One cell as text: dates ISO, times to the minute with their zone, numbers thousands-separated."""
    if _is_missing(value):
        return MISSING
    if isinstance(value, pd.Timestamp | datetime):
        return f"{value:%Y-%m-%d %H:%M} {value.tzname() or 'UTC'}"  # naive times in the snapshot are UTC
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, Decimal | float | np.floating) and places is not None:
        return f"{Decimal(str(value)):,.{places}f}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(_text(v) for v in value) or MISSING
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) or MISSING
    return str(value)


def _places(sample: pd.Series, currencies: set[str]) -> int:
    """Decimals to show: money at its currency's minor unit, finer amounts (per-call charges) at their own scale."""
    scale = max(0, -sample.iloc[0].as_tuple().exponent) if isinstance(sample.iloc[0], Decimal) else 2
    if scale <= 2 and len({currency_decimals(c) for c in currencies}) == 1:
        return currency_decimals(next(iter(currencies)))
    return scale


def display(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The frame as a person reads it, and the column configuration that labels it: human headers, numbers
    thousands-separated, money at its currency's decimals, times with their zone, "—" for a missing value.
    A numeric column without gaps stays numeric (it sorts as numbers); one with gaps, dates and times become
    text (ISO dates and times sort as text)."""
    shown, config = frame.copy(), {}
    currencies = {c for c in frame["currency"].dropna()} if "currency" in frame.columns else set()
    for column in frame.columns:
        name, values, tip = label(str(column)), frame[column], column_help(str(column))
        present = values.dropna() if values.dtype != object else values[[not _is_missing(v) for v in values]]
        first = present.iloc[0] if len(present) else None
        gaps = len(present) < len(values)
        if isinstance(first, Decimal):
            places = _places(present, currencies)
            if gaps:
                shown[column] = [_text(v, places) for v in values]
                config[column] = st.column_config.TextColumn(name, help=tip)
            else:
                config[column] = st.column_config.NumberColumn(name, help=tip, format="accounting", step=10.0**-places)
        elif pd.api.types.is_bool_dtype(values) or isinstance(first, bool | np.bool_):
            shown[column] = [_text(v) for v in values]
            config[column] = st.column_config.TextColumn(name, help=tip)
        elif pd.api.types.is_numeric_dtype(values) and not gaps:
            integral = pd.api.types.is_integer_dtype(values)
            config[column] = st.column_config.NumberColumn(
                name, help=tip, format="localized", step=1 if integral else None
            )
        elif pd.api.types.is_numeric_dtype(values):
            integral = bool(len(present)) and bool((present == present.round()).all())
            places = 0 if integral else 2
            shown[column] = [_text(int(v) if integral and not _is_missing(v) else v, places) for v in values]
            config[column] = st.column_config.TextColumn(name, help=tip)
        else:
            shown[column] = [_text(v) for v in values]
            config[column] = st.column_config.TextColumn(name, help=tip)
    return shown, config


def table(frame: pd.DataFrame, download: str | None = None, **options) -> None:
    """st.dataframe as a person reads it (display()), and a CSV download of the whole frame, as queried, when
    `download` names the file. A caller's column_config wins over display()'s for its columns."""
    shown, config = display(frame)
    for column, given in options.pop("column_config", {}).items():
        # a column display() turned into text ("—" for its gaps) keeps the caller's header, as text
        texted = column in frame.columns and shown[column].dtype == object and frame[column].dtype != object
        texted = texted or config.get(column, {}).get("type_config", {}).get("type") == "text"
        config[column] = st.column_config.TextColumn(given.get("label")) if texted else given
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **options)
    if download:
        st.download_button(
            f"Download {download.replace('_', ' ')} (CSV)", frame.to_csv(index=False), f"{download}.csv", "text/csv",
            key=f"download_{download}",
        )  # fmt: skip


def metric_row(metrics: dict[str, str | tuple[str, str | None]], helps: dict[str, str] | None = None) -> None:
    """One row of st.metric: label -> shown value, or (value, delta); `helps` gives a label its tooltip (a
    glossary definition)."""
    for column, (name, shown) in zip(st.columns(len(metrics)), metrics.items(), strict=True):
        value, delta = shown if isinstance(shown, tuple) else (shown, None)
        column.metric(name, value, delta, help=(helps or {}).get(name))


def percent(value: object, places: int) -> str:
    """A percentage to `places` decimals; – when missing."""
    return MISSING if blank(value) is None else f"{value:,.{places}f} %"
