"""The cases revenue-assurance analysts work, kept in step with the controls' findings (docs/assurance.md).

After the controls (the dbt `assurance` models) rebuild `marts/fct_leakage_findings`, `assurance/cases`
files every finding into the case store beside the warehouse (orchestration/assurance/cases.py): a new finding joins
its group's open case or opens one; analysts' edits (status, owner, notes, recovered amounts) are never
touched, so they survive every pipeline run.
"""

import dagster as dg

from orchestration.assurance.cases import ra_settings, read_findings, sync_findings
from orchestration.pipeline.assets.ingestion import WAREHOUSE_POOL
from orchestration.pipeline.resources import WarehouseResource

FINDINGS = dg.AssetKey(["marts", "fct_leakage_findings"])
CASES = dg.AssetKey(["assurance", "cases"])


@dg.asset(
    key=CASES,
    group_name="assurance",
    deps=[FINDINGS],
    pool=WAREHOUSE_POOL,
    kinds={"sqlite"},
    description="Every leakage finding filed into the analysts' case store: new findings open or join "
    "cases; analysts' edits are never changed.",
)
def cases(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = ra_settings()  # the dbt vars: the reporting currency and ra_case_materiality
    with warehouse.connect(read_only=True) as con:
        findings = read_findings(con, settings["reporting_currency"])
    result = sync_findings(warehouse.paths.cases, findings, materiality=settings["ra_case_materiality"])
    context.log.info(
        f"{len(findings)} findings: {result.new_cases} new case(s), {result.findings_attached} finding(s) "
        f"attached, {result.findings_gone} no longer found, {result.below_materiality} below materiality"
    )
    return dg.MaterializeResult(
        metadata={
            "findings": len(findings),
            "new_cases": result.new_cases,
            "findings_attached": result.findings_attached,
            "findings_gone": result.findings_gone,
            "below_materiality": result.below_materiality,
            "store": str(warehouse.paths.cases),
        }
    )


assurance_assets = [cases]
