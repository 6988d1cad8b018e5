# laiou — two commands on a fresh machine with Python 3.11: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
SHELL  := /bin/bash
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/seeds dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml

.PHONY: demo test ui ui-readonly serve docs install lint db-stop clean bi

install: $(STAMP)

# The install takes one to three minutes on a fresh machine: it says so, and names each package as pip
# fetches it (the whole log in .venv/install.log).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing laiou and its dependencies into $(VENV) (1–3 minutes; the full log in $(VENV)/install.log)"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@set -o pipefail; $(BIN)/python -m pip install -e ".[dev]" 2>&1 | tee $(VENV)/install.log \
		| grep --line-buffered -E '^(Collecting|Successfully installed)' | cut -c1-100
	@touch $(STAMP)

# dagster-dbt needs the dbt manifest when the definitions load.
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	cd dbt_project && DBT_PROFILES_DIR=. ../$(BIN)/dbt parse --quiet
	@touch $(MANIFEST)

demo: $(MANIFEST)
	$(BIN)/laiou demo

# Two workers (pytest-xdist), a test module per worker: each worker starts its own embedded server. The
# modules go in the order tests/conftest.py gives them (the longest first); xdist 3.8 would otherwise reorder
# them by their number of tests, which left the one-test soak module to run alone at the end.
TEST_WORKERS ?= 2

test: $(MANIFEST)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Apache Superset in its own virtualenv (it pins SQLAlchemy < 2 and pandas < 2.2), from the constraints kept
# in the repo; then `.venv/bin/laiou bi user NAME --role admin` and `.venv/bin/laiou bi serve` (docs/bi.md).
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed-stamp
BI_REQUIREMENTS := laiou_assets/superset/requirements.txt
BI_CONSTRAINTS := laiou_assets/superset/constraints.txt

bi: $(BI_STAMP) $(MANIFEST)
	@echo "Superset is installed in $(BI_VENV). Next (docs/bi.md):"
	@echo "  .venv/bin/laiou bi user <name> --role admin    # the first administrator; password on standard input"
	@echo "  .venv/bin/laiou bi serve                       # http://127.0.0.1:8088, dashboards in Chinese"

$(BI_STAMP): $(BI_REQUIREMENTS) $(BI_CONSTRAINTS)
	@test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	@echo "installing Apache Superset 6.1.0 into $(BI_VENV) (about two minutes; the full log in $(BI_VENV)/install.log)"
	@$(BI_VENV)/bin/python -m pip install --quiet --upgrade pip
	@set -o pipefail; $(BI_VENV)/bin/python -m pip install -r $(BI_REQUIREMENTS) -c $(BI_CONSTRAINTS) 2>&1 \
		| tee $(BI_VENV)/install.log | grep --line-buffered -E '^(Collecting|Successfully installed)' | cut -c1-100
	@touch $(BI_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ui: $(MANIFEST)
	exec $(BIN)/laiou ui

# Production: webserver, daemon and code server, supervised, in the foreground (docs/operations.md).
serve: $(MANIFEST)
	exec $(BIN)/laiou serve

# For viewers, beside `make ui` (port 3001): runs, backfills and schedule switches are refused.
ui-readonly: $(MANIFEST)
	exec $(BIN)/laiou ui --read-only

docs: $(MANIFEST)
	exec $(BIN)/laiou docs

db-stop: $(STAMP)
	$(BIN)/laiou db stop

clean:
	-$(BIN)/laiou db stop
	rm -rf .laiou dbt_project/target dbt_project/logs
