# floorpulse task runner. `make` prints this help.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SPEED  ?= 10

.PHONY: help setup demo test lint typecheck unit integration browser bench schema clean

help:  ## this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/floorpulse: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

setup: $(BIN)/floorpulse  ## create .venv and install floorpulse with its dev tools

demo: setup  ## set up and run the live demo: embedded Kafka + Redis, worker, gateway, simulator
	$(BIN)/floorpulse up --simulate --speed $(SPEED)

test: setup  ## set up (incl. Debian chromium) and run every check: lint, types, all tests
	./scripts/install-chromium.sh
	$(MAKE) lint typecheck
	$(BIN)/pytest -q

lint: setup  ## ruff
	$(BIN)/ruff check stream gateway producers tests bench

typecheck: setup  ## mypy --strict on the packages
	$(BIN)/mypy

unit: setup  ## unit tests only (no servers)
	$(BIN)/pytest -q tests/unit

integration: setup  ## integration tests (embedded broker and Redis)
	$(BIN)/pytest -q tests/integration

browser: setup  ## browser tests (headless Debian chromium)
	./scripts/install-chromium.sh
	$(BIN)/pytest -q tests/browser

bench: setup  ## benchmarks: prints a table, writes bench/results.json
	$(BIN)/python -m bench

schema: setup  ## export the event JSON Schema to docs/events.schema.json
	$(BIN)/floorpulse schema > docs/events.schema.json

clean:  ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .floorpulse *.egg-info
