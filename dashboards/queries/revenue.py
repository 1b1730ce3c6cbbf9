"""Revenue and margin for finance: rated usage (rpt_usage_daily) sliced by month, product, destination,
customer and currency; billed revenue by product (invoice lines); margin by route; receivables ageing.

Amounts are shown either in the reporting currency (converted at the day's FX rate for usage, at the
period's last day for invoices, as the assurance KPIs do) or in each account's own currency, then never
summed across currencies: every row keeps its currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from dashboards.data import Snapshot, fx_join, in_reporting, query, reporting_currency, scalar_row, values

# What a breakdown may group by: a fixed SQL expression per name, so no user text reaches the SQL.
DIMENSIONS = {
    "month": "strftime(u.call_date, '%Y-%m')",
    "day": "u.call_date",
    "product": "u.call_type",
    "destination country": "coalesce(u.destination_country, '(none)')",
    "customer": "coalesce(a.account_name, u.account_id)",
    "carrier": "coalesce(u.vendor_id, '(none)')",
}
CURRENCY_MODES = ("reporting", "account")


@dataclass(frozen=True)
class UsageFilter:
    """The revenue page's filters; empty lists mean everything."""

    first_month: date | None = None
    last_month: date | None = None
    products: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)

    def params(self) -> dict:
        return {
            "first_month": self.first_month,
            "last_month": self.last_month,
            "products": self.products or None,
            "countries": self.countries or None,
            "accounts": self.accounts or None,
        }


USAGE_WHERE = """
where ($first_month is null or u.call_date >= $first_month)
  and ($last_month is null or u.call_date < $last_month + interval 1 month)
  and ($products is null or u.call_type in (select unnest($products)))
  and ($countries is null or u.destination_country in (select unnest($countries)))
  and ($accounts is null or u.account_id in (select unnest($accounts)))
"""


def months(snapshot: Snapshot) -> list[date]:
    """Months with rated usage or invoices, newest first."""
    parts, tables = [], {}
    if snapshot.has("rpt_usage_daily"):
        parts.append("select distinct date_trunc('month', call_date)::date as m from u")
        tables["u"] = "rpt_usage_daily"
    if snapshot.has("fct_invoices"):
        parts.append("select distinct billing_period as m from i")
        tables["i"] = "fct_invoices"
    if not parts:
        return []
    frame = query(snapshot, " union ".join(parts) + " order by m desc", **tables)
    return [m.date() if hasattr(m, "date") else m for m in frame["m"]]


def default_month(snapshot: Snapshot, months: list[date]) -> int:
    """Index in `months` of the month a page opens on: the latest closed billing month (the current month
    has only some days in it), else the latest."""
    if snapshot.has("fct_invoices"):
        closed = query(snapshot, "select max(billing_period) as m from i where status = 'closed'", i="fct_invoices")
        latest = closed["m"][0]
        if latest is not None and latest in months:
            return months.index(latest)
    return 0


def choices(snapshot: Snapshot) -> dict[str, list]:
    """The values the revenue filters offer: products, destination countries, accounts (id, name)."""
    frame = query(
        snapshot,
        "select list(distinct u.call_type order by u.call_type) as products, "
        "list(distinct u.destination_country order by u.destination_country) "
        "filter (where u.destination_country is not null) as countries from u",
        u="rpt_usage_daily",
    )
    accounts = query(snapshot, "select account_id, account_name from a order by account_name", a="dim_accounts")
    return {
        "products": values(frame["products"][0]),
        "countries": values(frame["countries"][0]),
        "accounts": list(accounts.itertuples(index=False, name=None)),
    }


def usage_by(snapshot: Snapshot, dimension: str, filters: UsageFilter, mode: str = "reporting") -> pd.DataFrame:
    """Calls, minutes, revenue, vendor cost and margin grouped by `dimension` (one of DIMENSIONS); in the
    reporting currency, or per account currency (`mode`)."""
    if dimension not in DIMENSIONS or mode not in CURRENCY_MODES:
        raise ValueError(f"unknown dimension {dimension!r} or currency mode {mode!r}")
    if mode == "reporting":
        currency, revenue, margin = "$reporting", "sum(u.revenue_reporting)", "sum(u.margin_reporting)"
    else:
        currency, revenue, margin = "u.currency", "sum(u.revenue)", "sum(u.margin)"
    return query(
        snapshot,
        f"""select {DIMENSIONS[dimension]} as "{dimension}", {currency} as currency,
               sum(u.calls)::bigint as calls, round(sum(u.billed_seconds) / 60, 1) as minutes,
               cast({revenue} as decimal(18, 2)) as revenue, cast({margin} as decimal(18, 2)) as margin,
               round(100 * {margin} / nullif({revenue}, 0), 1) as margin_pct
            from u left join a on a.account_id = u.account_id
            {USAGE_WHERE}
            group by all order by {"1, 2" if dimension in ("month", "day") else "revenue desc nulls last, 1"}""",
        {**filters.params(), **({"reporting": reporting_currency(snapshot)} if mode == "reporting" else {})},
        u="rpt_usage_daily",
        a="dim_accounts",
    )


def usage_totals(snapshot: Snapshot, month: date) -> dict:
    """One month's usage in the reporting currency: calls, minutes, revenue, margin (zeros when empty), and
    the days with traffic."""
    row = scalar_row(
        query(
            snapshot,
            """select coalesce(sum(calls), 0)::bigint as calls, coalesce(sum(billed_seconds), 0) / 60 as minutes,
                      coalesce(sum(revenue_reporting), 0) as revenue, coalesce(sum(margin_reporting), 0) as margin,
                      count(distinct call_date) as days
               from u where call_date >= $month and call_date < $month + interval 1 month""",
            {"month": month},
            u="rpt_usage_daily",
        )
    )
    return row


def daily_trend(snapshot: Snapshot, month: date) -> pd.DataFrame:
    """Revenue and margin per day of the month, in the reporting currency."""
    return query(
        snapshot,
        """select call_date as day, cast(sum(revenue_reporting) as double) as revenue,
                  cast(sum(margin_reporting) as double) as margin
           from u where call_date >= $month and call_date < $month + interval 1 month
           group by 1 order by 1""",
        {"month": month},
        u="rpt_usage_daily",
    )


def billed_by_product(snapshot: Snapshot, first_month: date | None, last_month: date | None, mode: str) -> pd.DataFrame:
    """Invoiced amounts (before tax) per billing month and product line (usage, recurring, bundle, one-time,
    discounts, adjustments), in the reporting currency at the period's last day or per account currency."""
    amount = in_reporting("sum(l.amount)", "l.currency") if mode == "reporting" else "sum(l.amount)"
    currency = "$reporting" if mode == "reporting" else "l.currency"
    return query(
        snapshot,
        f"""with per_currency as (  -- converted per period and currency, as the assurance KPIs are
                select l.billing_period, l.line_type as product, {currency} as currency, {amount} as amount
                from l {fx_join("l.currency", "last_day(l.billing_period)")}
                where l.line_type <> 'tax'
                  and ($first_month is null or l.billing_period >= $first_month)
                  and ($last_month is null or l.billing_period <= $last_month)
                group by l.billing_period, l.line_type, l.currency, fx.rate
            )
            select billing_period, product, currency, sum(amount) as amount
            from per_currency group by all order by 1, 2, 3""",
        {"first_month": first_month, "last_month": last_month, "reporting": reporting_currency(snapshot)},
        l="fct_invoice_lines",
        fx="dim_fx_rates",
    )


def margin_by_route(snapshot: Snapshot, negative_only: bool = False) -> pd.DataFrame:
    """Revenue, vendor cost and margin per carrier and destination, worst margin first (plan currency)."""
    return query(
        snapshot,
        """select vendor_id as carrier, destination, currency, sum(calls)::bigint as calls,
                  round(sum(billed_seconds) / 60, 1) as minutes, cast(sum(revenue) as decimal(18, 2)) as revenue,
                  cast(sum(vendor_cost) as decimal(18, 2)) as vendor_cost,
                  cast(sum(margin) as decimal(18, 2)) as margin,
                  round(100 * sum(margin) / nullif(sum(revenue), 0), 1) as margin_pct
           from r group by all having not $negative_only or sum(margin) < 0
           order by margin, carrier, destination""",
        {"negative_only": negative_only},
        r="rpt_rating_margin",
    )


def receivables_ageing(snapshot: Snapshot) -> pd.DataFrame:
    """Open balances per customer and ageing bucket (account currency)."""
    return query(
        snapshot,
        """select account_name as customer, currency, invoices, invoiced, paid, open_balance,
                  current_amount as "current", past_due_1_30 as "1-30", past_due_31_60 as "31-60",
                  past_due_61_90 as "61-90", past_due_over_90 as "over 90", unapplied_cash, as_of_date
           from r order by open_balance desc, customer""",
        r="rpt_receivables_ageing",
    )
