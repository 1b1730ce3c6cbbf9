"""The dbt project's unit tests (hand-worked rows in the models' `_*__unit_tests.yml`), run once for the suite.

Production runs leave them out (orchestration/pipeline/assets/dbt.py): they check the SQL, which does not change
between runs. dbt needs every model's relation to exist to type the inputs, so the project is built empty first.
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestration.settings import run_dbt


def test_every_dbt_unit_test_passes(tmp_path: Path) -> None:
    built = run_dbt(tmp_path, "build", "--empty", "--exclude-resource-type", "unit_test", "test")
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-2000:]
    tested = run_dbt(tmp_path, "test", "--select", "test_type:unit")
    assert tested.returncode == 0, tested.stdout[-6000:] + tested.stderr[-2000:]
    results = json.loads((tmp_path / "dbt_target" / "run_results.json").read_text())["results"]
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    manifest = json.loads((tmp_path / "dbt_target" / "manifest.json").read_text())
    assert len(unit) == len(manifest["unit_tests"]) > 0  # every unit test of the project ran
    assert {r["status"] for r in unit} == {"pass"}
