"""Fraud detection in Dagster (docs/fraud.md): the model trained on the dbt features, every feature row
scored, and the alerts filed into the analysts' store.

Order: dbt fraud features (tag fraud) -> fraud/model (training; monthly, or on demand) -> fraud/scores ->
dbt alerts (int_fraud_alerts_triggered, fct_fraud_alerts) -> fraud/alerts (filed in the case store). Scoring uses
whichever model CURRENT names; a model file of another format or scikit-learn version fails the run with
the reason.
"""

import dagster as dg

from models.fraud import model as model_lib
from models.fraud import training
from orchestration.assurance import alert_queue
from orchestration.pipeline.assets.ingestion import WAREHOUSE_POOL
from orchestration.pipeline.resources import WarehouseResource

FEATURES = dg.AssetKey(["marts", "fct_fraud_features"])
ALERTS = dg.AssetKey(["marts", "fct_fraud_alerts"])
MODEL = dg.AssetKey(["fraud", "model"])
SCORES = dg.AssetKey(["fraud", "scores"])
FILED = dg.AssetKey(["fraud", "alerts"])


class TrainingConfig(dg.Config):
    seed: int = 7
    """The forest's random seed: the same seed and features give the same model, version included."""


@dg.asset(key=MODEL, group_name="fraud", deps=[FEATURES], pool=WAREHOUSE_POOL, kinds={"sklearn"},
          description="An Isolation Forest trained on the feature rows, saved with its version, training window, "
          "threshold and metrics (the analysts' confirmed and dismissed rows it flags); CURRENT names it.")  # fmt: skip
def model(context: dg.AssetExecutionContext, config: TrainingConfig, warehouse: WarehouseResource):
    with warehouse.connect(read_only=True) as con:
        trained = training.train(con, warehouse.paths.cases, warehouse.paths.fraud_models, config.seed)
    context.log.info(f"fraud model {trained.version}: threshold {trained.threshold}, {trained.metrics}")
    card = trained.card()
    return dg.MaterializeResult(
        metadata={
            "version": trained.version,
            "training_window": f"{card['trained_from']}..{card['trained_to']}",
            "threshold": trained.threshold,
            **{k: v for k, v in trained.metrics.items() if isinstance(v, int | float)},
        }
    )


@dg.asset(key=SCORES, group_name="fraud", deps=[FEATURES, MODEL], pool=WAREHOUSE_POOL, kinds={"sklearn", "duckdb"},
          description="Every feature row scored by the current model (fraud.model_scores), and the analysts' "
          "alert decisions copied from the case store (fraud.alert_decisions) for the alert models.")  # fmt: skip
def scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    try:
        with warehouse.connect() as con:
            used, rows = training.score(con, warehouse.paths.fraud_models, warehouse.paths.cases)
    except model_lib.ModelFileError as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info(f"{rows:,} feature rows scored by model {used.version}")
    return dg.MaterializeResult(metadata={"rows": rows, "model_version": used.version, "threshold": used.threshold})


@dg.asset(key=FILED, group_name="fraud", deps=[ALERTS], pool=WAREHOUSE_POOL, kinds={"sqlite"},
          description="The alert queue filed into the case store: new alerts open; analysts' confirm or "
          "dismiss is never changed.")  # fmt: skip
def filed_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.connect(read_only=True) as con:
        alerts = alert_queue.read_fraud_alerts(con)
    new = alert_queue.sync_fraud_alerts(warehouse.paths.cases, alerts)
    context.log.info(f"{len(alerts)} alerts in the queue, {new} new")
    return dg.MaterializeResult(metadata={"alerts": len(alerts), "new_alerts": new})


fraud_assets = [model, scores, filed_alerts]
