"""The serving snapshot the dashboards read, published after the marts it copies were built and tested."""

import dagster as dg

from orchestration.assets.ingestion import WAREHOUSE_POOL
from orchestration.publish import SERVED_TABLES, publish
from orchestration.resources import WarehouseResource


@dg.asset(
    key=["serving", "snapshot"],
    group_name="serving",
    deps=[dg.AssetKey(table.split(".")) for table in SERVED_TABLES],
    pool=WAREHOUSE_POOL,
    kinds={"parquet"},
    description="Parquet copy of the served marts, switched in atomically. It runs only after the dbt "
    "build of its marts succeeded, tests included: a failed check publishes nothing.",
)
def serving_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as con:
        manifest = publish(con, warehouse.paths)
    context.log.info(f"published snapshot {manifest['version']}")
    return dg.MaterializeResult(metadata={"version": manifest["version"], **manifest["rows"]})
