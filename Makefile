# csops front door. Every target bootstraps .venv from uv.lock on a fresh machine (only Python 3.11 + pip needed).
SHELL := /bin/bash
UV := python3 -m uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.csops-installed
export UV_COMPILE_BYTECODE := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false
export DAGSTER_DISABLE_TELEMETRY := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: install demo dev dashboard test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml sandbox/pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --quiet --extra spark
	@echo "installed .venv from uv.lock (uv sync --frozen; list: python3 -m uv pip list)"
	@touch $@

## make demo: generate the sandbox company, run the whole pipeline once, push to the sandbox CRM, summarise.
demo: install
	$(VENV)/bin/csops demo

## make dev: the Dagster UI on the sandbox (http://127.0.0.1:3000), ready to materialize.
dev: install
	$(VENV)/bin/csops dev

## make dashboard: the CS Ops dashboard over the serving copy (http://127.0.0.1:8501; run make demo first).
dashboard: install
	$(VENV)/bin/csops dashboard

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/csops lint-sql

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make test: lint (ruff, sqlfluff) and the whole test suite.
test: lint
	$(VENV)/bin/pytest

bench: install
	$(VENV)/bin/csops bench

clean:
	rm -rf data/ dbt_project/target dbt_project/logs .dagster_home
