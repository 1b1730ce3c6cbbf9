"""The serving snapshot the dashboards read, published after the marts it copies were built and tested."""

import dagster as dg

from orchestration.pipeline.assets.assurance import CASES
from orchestration.pipeline.assets.billing import PERIOD_CLOSE
from orchestration.pipeline.assets.fraud import FILED
from orchestration.pipeline.assets.ingestion import WAREHOUSE_POOL
from orchestration.pipeline.resources import WarehouseResource
from orchestration.serving.publish import SERVED_TABLES, publish

SERVING = dg.AssetKey(["serving", "snapshot"])


@dg.asset(
    key=SERVING,
    group_name="serving",
    # after the marts it copies, after a close froze the month's invoices, and after the findings and alerts
    # were filed in the case store (so every finding and alert the pages show can be worked at once)
    deps=[*(dg.AssetKey(table.split(".")) for table in SERVED_TABLES), PERIOD_CLOSE, CASES, FILED],
    pool=WAREHOUSE_POOL,
    kinds={"parquet"},
    description="Parquet copy of the served marts, switched in atomically. It ends every run that builds "
    "them (daily load, billing, assurance, fraud scoring) and runs only after that run's dbt build succeeded, "
    "tests included: a failed check publishes nothing and the dashboards keep the last good snapshot.",
)
def serving_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as con:
        manifest = publish(con, warehouse.paths)
    context.log.info(f"published snapshot {manifest['version']} ({len(manifest['rows'])} tables)")
    return dg.MaterializeResult(metadata={"version": manifest["version"], **manifest["rows"]})
