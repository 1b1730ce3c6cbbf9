# The verbs people type. Every target builds the environment first: `make run` and `make test` work on a
# fresh machine that has only Python 3.11 and make.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# The lock file's resolver, pinned so every machine installs the same way.
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(VENV)
export DAGSTER_HOME ?= $(or $(TOLLHOUSE_DATA_DIR),$(CURDIR)/data)/dagster

.PHONY: setup manifest run test bench ui dashboard lint format clean

setup: $(VENV)/.synced

# Bytecode is compiled once, at the sync: where Python may not write it (PYTHONDONTWRITEBYTECODE, a read-only venv)
# every command would otherwise compile pandas, numpy and Dagster again (seconds of CPU before `tollhouse summary`).
$(VENV)/.synced: pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null  # a venv uv made has no pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen --inexact --compile-bytecode
	@touch $@

# dagster-dbt reads the dbt manifest when the code location loads: prepare it here, never at import.
manifest: dbt_project/target/manifest.json

dbt_project/target/manifest.json: $(VENV)/.synced $(shell find dbt_project -name '*.sql' -o -name '*.yml' | grep -v target/)
	@# A full parse with the absolute project folder, for the `run` target: each run's dbt starts from this parse
	@# in the data folder (dbt_project/profiles.yml), where seeds are found by the folder recorded here.
	cd dbt_project && ../$(BIN)/dbt parse --quiet --no-partial-parse --profiles-dir . --project-dir $(CURDIR)/dbt_project --target run
	@touch $@

run: setup manifest
	$(BIN)/tollhouse demo

test: setup manifest
	$(BIN)/pytest

bench: setup manifest
	$(BIN)/python -m tools.bench.run

ui: setup manifest
	@$(BIN)/python -m orchestration.pipeline.instance >/dev/null
	$(BIN)/dagster dev -m orchestration.pipeline.definitions

# The Streamlit app on the last published snapshot (`make run` publishes one). People sign in as the users of
# `python -m dashboards.users add NAME --role ROLE`. Headless: no first-run prompt; open the URL it prints.
# Viewer toolbar: no Deploy button or developer menu (also in .streamlit/config.toml).
dashboard: setup
	$(BIN)/streamlit run dashboards/app.py --server.headless true --browser.gatherUsageStats false --client.toolbarMode viewer

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf data/landing data/ground_truth data/warehouse data/serving data/invoices data/artifacts data/dagster data/bench \
	       dbt_project/target dbt_project/logs
