"""The Tariffs page's tables: deck versions, a diff, a preview and a refused upload's broken rules, with the
words and formats a pricing analyst reads (money to the cent with thousands separators, times in UTC)."""

from __future__ import annotations

import pandas as pd

from orchestration.billing.invoices.formatting import format_money
from orchestration.rating import decks

KIND_NAMES = {"customer": "Customer plan", "vendor": "Vendor deck"}


def versions(found: list[decks.DeckVersion]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (KIND_NAMES[v.kind], v.rate_plan_id, v.version, v.status, v.effective_from.isoformat(), v.uploaded_by,
             f"{v.uploaded_at:%Y-%m-%d %H:%M}", v.approved_by or "–", v.published_by or "–")
            for v in found
        ],
        columns=["Deck", "Rate plan", "Version", "Status", "Effective from", "Uploaded by", "Uploaded (UTC)",
                 "Approved by", "Published by"],
    )  # fmt: skip


def diff(changes: list[decks.RateChange]) -> pd.DataFrame:
    return pd.DataFrame(
        [(c.change, c.prefix, c.destination, c.band, c.group_start_s, c.old_rate or "–", c.new_rate or "–",
          c.detail or "–") for c in changes],
        columns=["Change", "Prefix", "Destination", "Band", "Slot from (s)", "Rate now", "Rate new", "What changed"],
    )  # fmt: skip


PREVIEW_HEADINGS = {
    "destination": "Destination", "calls": "Calls",
    "revenue_old": "Revenue now", "revenue_new": "Revenue new", "revenue_diff": "Revenue change",
    "cost_old": "Cost now", "cost_new": "Cost new", "cost_diff": "Cost change",
    "margin_old": "Margin now", "margin_new": "Margin new", "margin_diff": "Margin change",
}  # fmt: skip


def preview(rows: list[dict[str, object]], currency: str) -> pd.DataFrame:
    """Amounts to the cent with thousands separators, changes signed, in the calls' currency (named)."""

    def shown(column: str, amount: object) -> str:
        text = format_money(amount)
        return f"+{text}" if column.endswith("_diff") and amount > 0 and text != "0.00" else text

    frame = pd.DataFrame(
        [[r["destination"], f"{r['calls']:,}", *(shown(c, r[c]) for c in decks.PREVIEW_COLUMNS[2:])] for r in rows],
        columns=[PREVIEW_HEADINGS[c] for c in decks.PREVIEW_COLUMNS],
    )
    return frame.rename(columns={h: f"{h} ({currency})" for h in frame.columns[2:]})


def problems(lines: list[str]) -> pd.DataFrame:
    """`file:line: rule: message` lines as a table; a line of another shape is kept whole as the message."""
    rows = []
    for line in lines:
        parts = line.split(": ", 2)
        where = parts[0].rsplit(":", 1)
        if len(parts) == 3 and len(where) == 2:
            rows.append((where[0], where[1], parts[1], parts[2]))
        else:
            rows.append(("", "", "", line))
    return pd.DataFrame(rows, columns=["File", "Line", "Rule", "Message"])
