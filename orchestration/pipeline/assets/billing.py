"""Billing-period assets beside the dbt billing models (docs/billing.md), partitioned by month.

`billing/period_close` is the period close: materializing a month freezes its drafted invoices
(orchestration/billing/periods.py), so only the monthly close job and `tollhouse close` select it; a re-run or a
backfill of months rebuilds the drafts and re-renders documents without it. `billing/invoice_documents`
renders the closed invoices of the run's months (HTML, PDF, line exports and the ledger journal); a closed
period renders to the same bytes every time.
"""

from datetime import date

import dagster as dg

from orchestration.billing.periods import close_period
from orchestration.pipeline.assets.ingestion import WAREHOUSE_POOL
from orchestration.pipeline.partitions import billing_months
from orchestration.pipeline.resources import WarehouseResource

DRAFTED = [dg.AssetKey(["intermediate", name]) for name in ("int_invoices_drafted", "int_invoice_lines_drafted",
                                                            "int_invoice_calls_drafted")]  # fmt: skip
MARTS = [dg.AssetKey(["marts", name]) for name in ("fct_invoices", "fct_invoice_lines", "fct_invoice_calls")]
PERIOD_CLOSE = dg.AssetKey(["billing", "period_close"])
INVOICE_DOCUMENTS = dg.AssetKey(["billing", "invoice_documents"])


def run_months(context: dg.AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(key) for key in context.partition_keys]


class CloseConfig(dg.Config):
    closed_by: str = "monthly_close"
    """Who closes: recorded in the period log (the CLI passes the user's name)."""
    reason: str = ""


@dg.asset(
    key=PERIOD_CLOSE,
    group_name="billing",
    deps=DRAFTED,
    partitions_def=billing_months,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="The period close: each month's drafted invoices, lines and calls frozen in the billing "
    "archive and the act logged. Closing a closed month changes nothing.",
)
def period_close(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: CloseConfig
) -> dg.MaterializeResult:
    acts = []
    with warehouse.connect() as con:
        for month in run_months(context):
            act = close_period(con, month, config.closed_by, config.reason or None)
            done = "closed" if act.action == "close" else "already closed"
            context.log.info(f"{month:%Y-%m}: {done}, {act.invoices} invoices {act.totals}")
            acts.append(act)
    return dg.MaterializeResult(
        metadata={
            "invoices": sum(a.invoices for a in acts),
            "closed_now": [f"{a.billing_period:%Y-%m}" for a in acts if a.action == "close"],
        }
    )


@dg.asset(
    key=INVOICE_DOCUMENTS,
    group_name="billing",
    deps=[PERIOD_CLOSE, *MARTS],
    partitions_def=billing_months,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    kinds={"html", "pdf"},
    description="HTML and PDF of every closed invoice of the month, its lines as CSV and JSON and the "
    "general-ledger journal, under data/invoices/<YYYY-MM>/. Re-rendering gives identical files.",
)
def invoice_documents(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from orchestration.billing.invoices.period import render_period

    written = []
    with warehouse.connect(read_only=True) as con:
        for month in run_months(context):
            written += render_period(con, month, warehouse.paths.invoices)
    context.log.info(f"{len(written)} documents under {warehouse.paths.invoices}")
    return dg.MaterializeResult(metadata={"documents": len(written), "folder": str(warehouse.paths.invoices)})


billing_assets = [period_close, invoice_documents]

# Earlier months' archive as drafting reads it (dbt source `billing`). The close writes it, but the edge runs back
# in time (a month's close feeds the next month's drafts, which feed that month's close): Dagster draws no loop of
# assets, so these are external assets, described. The marts read the run's own closes through
# `billing/period_close` (dbt source `billing_closed`).
ARCHIVE_AS_DRAFTING_READS_IT = [
    dg.AssetSpec(
        dg.AssetKey(["billing", "period_log"]),
        group_name="billing",
        description="Every close and re-open of a billing period (billing/period_close writes it): drafting "
        "reads which months are closed.",
    ),
    dg.AssetSpec(
        dg.AssetKey(["billing", "closed_invoice_calls"]),
        group_name="billing",
        description="Calls billed on earlier months' closed invoices (billing/period_close writes them): drafting "
        "leaves them out of usage and bills their late changes as adjustments.",
    ),
]
