"""The dbt project as a reader meets it: every model named int_<entity>_<verb> and described in YAML with
its key, one exposure per dashboard page, contracts on what the dashboards read, the dashboards reading
marts only, and Dagster showing dbt's descriptions grouped by domain. Reads the saved parse
(dbt_project/target/manifest.json, `make manifest`) and the code; builds no warehouse."""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "dbt_project" / "target" / "manifest.json"
PAGES = ("overview", "revenue", "invoices", "leakage", "cases", "fraud", "data_operations")


@cache
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def models() -> dict[str, dict]:
    return {n["name"]: n for n in manifest()["nodes"].values() if n["resource_type"] == "model"}


def test_intermediate_models_are_named_entity_then_verb():
    # past participles and the few irregular ones the names use
    verb = re.compile(r"_(\w+ed|found|laid_out|tied_out|carried_forward|rated_for_billing)$")
    wrong = sorted(
        name
        for name, node in models().items()
        if node["original_file_path"].startswith("models/intermediate/") and not verb.search(name)
    )
    assert wrong == []
    for old in ("int_billing_calls", "int_fraud_baselines", "int_tariff_rates", "int_ra_completeness"):
        assert old not in models()


def test_every_model_is_described_in_yaml_with_its_key_columns_and_the_key_tested():
    undescribed = sorted(n for n, node in models().items() if not node["patch_path"] or not node["description"])
    assert undescribed == []
    # each model's YAML says what its key is (meta.key); every key column is described, and the key is tested
    tests = [n for n in manifest()["nodes"].values() if n["resource_type"] == "test"]
    tested: dict[str, set[str]] = {}
    for test in tests:
        meta = test.get("test_metadata") or {}
        for parent in test["depends_on"]["nodes"]:
            name = parent.split(".")[-1]
            kwargs = meta.get("kwargs", {})
            if meta.get("name") == "unique" and kwargs.get("column_name"):
                tested.setdefault(name, set()).add(kwargs["column_name"])
            if meta.get("name") in ("unique_combination", "primary_key"):
                tested.setdefault(name, set()).add(",".join((kwargs.get("arguments") or kwargs)["columns"]))
    missing_key, undescribed_key, untested_key = [], [], []
    for name, node in models().items():
        key = node["meta"].get("key") or node["config"].get("meta", {}).get("key")
        if key is None:
            missing_key.append(name)
            continue
        if key == "none":  # an aggregate or a log with no natural key says so in its description
            continue
        columns = key if isinstance(key, list) else [key]
        if any(not node["columns"].get(c, {}).get("description") for c in columns):
            undescribed_key.append(name)
        # a view over every row of a table is not tested again: the table it reads is (meta.key_tested_on)
        tested_on = node["config"].get("meta", {}).get("key_tested_on")
        if ",".join(columns) not in tested.get(name, set()) and tested_on not in models():
            untested_key.append(name)
    assert (missing_key, undescribed_key, untested_key) == ([], [], [])


def test_every_dashboard_page_is_an_exposure_on_the_marts_it_reads():
    exposures = {e["name"]: e for e in manifest()["exposures"].values()}
    assert sorted(exposures) == sorted(PAGES)
    roles = (ROOT / "dashboards" / "roles.toml").read_text()
    for page, exposure in exposures.items():
        assert exposure["type"] == "dashboard"
        assert exposure["url"] == f"http://localhost:8501/{page}"
        assert exposure["owner"]["name"] in ("finance", "assurance", "engineering")
        assert exposure["owner"]["name"] in roles
        read = {n.split(".")[-1] for n in exposure["depends_on"]["nodes"]}
        assert read and all(r.startswith(("fct_", "rpt_", "dim_")) for r in read), (page, read)
    assert "marts/leakage" not in exposures  # (names are pages, not paths)
    assert {"fct_leakage_findings", "dim_fx_rates"} <= {
        n.split(".")[-1] for n in exposures["leakage"]["depends_on"]["nodes"]
    }
    assert {"rpt_usage_daily", "dim_accounts", "dim_fx_rates"} <= {
        n.split(".")[-1] for n in exposures["revenue"]["depends_on"]["nodes"]
    }


def served() -> list[str]:
    from orchestration.serving.publish import SERVED

    return [s.relation for s in SERVED]


def test_serving_reads_marts_only_and_every_served_mart_has_an_enforced_contract():
    relations = served()
    assert all(r.startswith("marts.") for r in relations), relations
    assert {"marts.dim_accounts", "marts.dim_fx_rates"} <= set(relations)
    nodes = models()
    for name in [r.split(".")[1] for r in relations] + ["fct_leakage_findings"]:
        node = nodes[name]
        assert node["config"]["contract"]["enforced"], name
        assert node["columns"] and all(c.get("data_type") for c in node["columns"].values()), name


def test_dashboard_queries_name_only_served_tables():
    served_names = {r.split(".")[1] for r in served()}
    named = set()
    for path in (ROOT / "dashboards").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant):
                value = node.value.value
                if isinstance(value, str) and re.fullmatch(r"(stg|int|fct|rpt|dim)_\w+", value):
                    named.add(value)
    assert named and named <= served_names, named - served_names


def test_dagster_shows_dbt_descriptions_grouped_by_domain_with_keys_unchanged():
    from orchestration.pipeline.assets.dbt import build_dbt_assets

    specs = {spec.key.to_user_string(): spec for assets in build_dbt_assets() for spec in assets.specs}
    groups = {key: spec.group_name for key, spec in specs.items()}
    assert groups["intermediate/int_calls_identified"] == "mediation"
    assert groups["marts/fct_calls"] == "mediation"
    assert groups["intermediate/int_calls_rated"] == "rating"
    assert groups["marts/fct_invoices"] == "billing"
    assert groups["marts/fct_leakage_findings"] == "assurance"
    assert groups["marts/fct_fraud_alerts"] == "fraud"
    assert groups["marts/rpt_ingestion_daily"] == "operations"
    assert groups["staging/stg_asterisk__cdrs"] == "asterisk"  # staging: by source
    assert groups["staging/stg_crm__accounts"] == "crm"
    assert groups["marts/dim_accounts"] == "customers"
    # the daily load job selects the group `ingestion` (the raw tables) whole: no dbt model joins it
    assert "ingestion" not in set(groups.values())
    assert not {"staging", "intermediate", "marts"} & set(groups.values())
    nodes = models()
    for key, spec in specs.items():
        layer, name = key.split("/")
        if name in nodes:
            assert layer == nodes[name]["original_file_path"].split("/")[1]
            assert spec.description == nodes[name]["description"], key
            assert "select" not in spec.description.lower().split(), key
