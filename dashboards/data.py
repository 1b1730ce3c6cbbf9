"""The snapshot the dashboards read, and the one way pages query it.

The app never opens the warehouse. It reads the snapshot named by data/serving/CURRENT. Every query is
cached by the snapshot's version, its SQL and its parameters, so a new publish shows on the next rerun and an
old one is never mixed with it. Filters are bound as parameters ($name), never pasted into the SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from orchestration.settings import Paths
from orchestration.warehouse import sql_literal

# A B-number as a role without see_numbers sees it: its last four digits, the rest masked, the length kept
# (orchestration.billing.invoices.formatting.mask_number, in SQL so a download of many rows is masked the same way).
MASKED_MACRO = """
create or replace macro masked(number, unmasked) as case
    when unmasked or number is null then number
    when length(ltrim(trim(number), '+')) <= 4 then repeat('•', length(ltrim(trim(number), '+')))
    else repeat('•', length(ltrim(trim(number), '+')) - 4) || right(ltrim(trim(number), '+'), 4)
end
"""


@dataclass(frozen=True)
class Snapshot:
    version: str
    published_at: str
    data_through: str | None
    folder: Path
    tables: frozenset[str]

    def table(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"

    def has(self, *names: str) -> bool:
        return set(names) <= self.tables

    @property
    def as_of(self) -> str:
        through = f"data through {self.data_through} UTC, " if self.data_through else ""
        return f"{through}published {self.published_at.replace('T', ' ')}"


def current_snapshot(paths: Paths | None = None) -> Snapshot | None:
    """The published snapshot, or None before the first publish."""
    root = (paths or Paths.from_env()).serving
    pointer = root / "CURRENT"
    if not pointer.exists():
        return None
    return current_snapshot_at(root / "snapshots" / pointer.read_text().strip())


def current_snapshot_at(folder: Path) -> Snapshot:
    """The snapshot published in `folder` (a version's folder never changes once published)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return Snapshot(
        folder.name, manifest["published_at"], manifest.get("data_through"), folder, frozenset(manifest["rows"])
    )


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@st.cache_data(ttl=3600, max_entries=1000, show_spinner=False)
def _cached(
    folder: str, sql: str, params: tuple[tuple[str, Any], ...], tables: tuple[tuple[str, str], ...], as_records: bool
):
    con = duckdb.connect()
    try:
        con.execute(MASKED_MACRO)
        for alias, table in tables:
            # a view takes no parameters: the path is quoted (a data folder's name may hold quotes)
            parquet = sql_literal(Path(folder) / f"{table}.parquet")
            con.execute(f"create view {alias} as select * from read_parquet({parquet})")
        bound = {name: list(value) if isinstance(value, tuple) else value for name, value in params}
        cursor = con.execute(sql, bound)
        if as_records:
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return cursor.to_arrow_table().to_pandas()  # through Arrow: DECIMAL stays Decimal, never float
    finally:
        con.close()


def _key(snapshot: Snapshot, params: dict | None, tables: dict[str, str]) -> tuple:
    frozen = tuple(sorted((name, _freeze(value)) for name, value in (params or {}).items()))
    return str(snapshot.folder), frozen, tuple(sorted(tables.items()))


def query(snapshot: Snapshot, sql: str, params: dict | None = None, **tables: str) -> pd.DataFrame:
    """Run SQL over snapshot tables, named as keyword arguments (alias=table); filters bound as parameters.
    Results are cached per snapshot folder (a version never changes once published); each call gets its own
    copy (st.cache_data returns a copy). Money columns hold Decimals."""
    folder, frozen, named = _key(snapshot, params, tables)
    return _cached(folder, sql, frozen, named, as_records=False)


def records(snapshot: Snapshot, sql: str, params: dict | None = None, **tables: str) -> list[dict[str, Any]]:
    """As query, but rows as dicts of the warehouse's own Python values (Decimal, date, int or None): for
    documents, where pandas' nullable columns would turn integers into floats."""
    folder, frozen, named = _key(snapshot, params, tables)
    return _cached(folder, sql, frozen, named, as_records=True)


def scalar_row(frame: pd.DataFrame) -> dict[str, Any]:
    """The one row of an aggregate as a dict (an empty frame gives an empty dict)."""
    return {} if frame.empty else frame.iloc[0].to_dict()


def values(cell: Any) -> list:
    """A list cell of a query result (a numpy array, or None) as a Python list."""
    return [] if cell is None else list(cell)


def reporting_currency(snapshot: Snapshot) -> str:
    """The currency amounts of several currencies are shown in (dbt var reporting_currency)."""
    if snapshot.has("rpt_usage_daily"):
        found = query(snapshot, "select any_value(reporting_currency) as c from u", u="rpt_usage_daily")["c"][0]
        if found:
            return found
    return "EUR"


def fx_join(currency: str, day: str) -> str:
    """SQL joining `fx` (the served dim_fx_rates) at `day` for rows in `currency`; bind $reporting."""
    return f"left join fx on fx.base_currency = {currency} and fx.quote_currency = $reporting and fx.rate_day = {day}"


def in_reporting(amount: str, currency: str) -> str:
    """SQL for `amount` in the reporting currency through fx_join's rate (null while no rate is known)."""
    return f"cast(({amount}) * case when {currency} = $reporting then 1 else fx.rate end as decimal(18, 2))"
