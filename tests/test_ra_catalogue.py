"""The control catalogue has one home (seed ra_controls.csv); the docs table and the findings union follow it."""

from __future__ import annotations

import csv
import re

from orchestration.settings import DBT_PROJECT_DIR

DOCS = DBT_PROJECT_DIR.parent / "docs" / "assurance.md"
AREAS = {"usage_capture", "mediation", "rating", "billing", "order_to_bill", "collection", "cost"}
DIRECTIONS = {"under_billing", "over_billing", "collection", "cost", "none"}
FINDING_WRITER = r"ra_(?:finding|usage_findings|charge_findings)\('(RA-\d\d)'"  # macros/assurance.sql


def catalogue() -> list[dict[str, str]]:
    with (DBT_PROJECT_DIR / "seeds" / "ra_controls.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_control_has_an_area_a_rule_what_it_compares_a_valuation_and_directions():
    rows = catalogue()
    assert len({r["control_id"] for r in rows}) == len(rows)
    for row in rows:
        assert row["leakage_area"] in AREAS, row["control_id"]
        assert set(row["direction"].split("|")) <= DIRECTIONS, row["control_id"]
        for column in ("rule", "compares", "valuation", "finding_types"):
            assert row[column].strip(), (row["control_id"], column)


def test_the_docs_table_says_what_the_catalogue_says():
    docs = DOCS.read_text(encoding="utf-8")
    for row in catalogue():
        line = next((x for x in docs.splitlines() if x.startswith(f"| {row['control_id']} | ")), None)
        assert line is not None, f"{row['control_id']} is missing from docs/assurance.md's catalogue"
        for column in ("control_name", "rule", "compares", "valuation"):
            assert row[column] in line, (row["control_id"], column)


def test_every_control_writes_into_the_findings_table():
    union = (DBT_PROJECT_DIR / "models" / "marts" / "assurance" / "fct_leakage_findings.sql").read_text()
    models = re.findall(r"'(int_ra_\w+)'", union)
    written = set()
    for model in models:
        sql = next(DBT_PROJECT_DIR.glob(f"models/intermediate/assurance/{model}.sql")).read_text()
        written |= set(re.findall(FINDING_WRITER, sql))
    written |= set(re.findall(FINDING_WRITER, (DBT_PROJECT_DIR / "macros" / "ra_refunds.sql").read_text()))
    assert {r["control_id"] for r in catalogue()} <= written
