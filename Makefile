# floorpulse task runner. `make` prints this help.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SPEED  ?= 10

.PHONY: help setup compile demo test lint typecheck unit integration browser bench schema clean

help:  ## this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/floorpulse: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

# The pure modules compiled with mypyc (stream/compiled.py lists them); rebuilt when any
# module of their packages changes.
COMPILED_DEPS := stream/compiled.py scripts/compile.py \
	$(wildcard stream/metrics/*.py stream/qa/*.py stream/wfm/*.py)

$(VENV)/.compiled: $(BIN)/floorpulse $(COMPILED_DEPS)
	@if $(BIN)/python scripts/compile.py; then touch $@; else \
	  echo "floorpulse: mypyc could not compile (no C compiler?); the modules run as pure Python"; fi

setup: $(BIN)/floorpulse $(VENV)/.compiled  ## create .venv, install floorpulse with its dev tools, compile
compile: $(VENV)/.compiled  ## compile the pure per-event modules with mypyc (stream/compiled.py)

demo: setup  ## set up and run the live demo: embedded Kafka + Redis, worker, gateway, simulator
	$(BIN)/floorpulse up --simulate --speed $(SPEED)

test: setup  ## set up (incl. Debian chromium) and run every check: lint, types, all tests
	./scripts/install-chromium.sh
	$(MAKE) lint typecheck
	FLOORPULSE_EXPECT_COMPILED=1 $(BIN)/pytest -q

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

clean:  ## remove the venv, caches and compiled modules
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .floorpulse *.egg-info build/mypyc
	find stream -name '*.so' -delete
