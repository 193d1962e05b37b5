# Two commands for a newcomer: `make demo` and `make test`. Everything they need is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_DIR ?= demo-data

.PHONY: install demo test lint typecheck unit browser chromium services wrk bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Seed a demo organisation in ./demo-data (once) and serve it on http://127.0.0.1:8000
demo: $(STAMP)
	$(BIN)/haven demo --data-dir $(DEMO_DIR) --host 127.0.0.1 --port 8000

## Install everything the tests need and run every test, on SQLite and on PostgreSQL (+ Redis)
test: $(STAMP) chromium services lint typecheck
	scripts/with-services $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## Debian's chromium for the Playwright browser tests (the project never downloads a browser)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

## Debian's PostgreSQL and Redis: scripts/with-services starts private ones on 127.0.0.1 for a run
services:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    postgresql redis-server; }

## Benchmarks by hand, never in CI (docs/performance.md): the full run seeds 1,000,000 cases twice
bench: $(STAMP) services wrk
	scripts/with-services $(BIN)/python -m bench $(BENCH_ARGS)

## The short run: 100,000 cases, one round
bench-quick: $(STAMP) services wrk
	scripts/with-services $(BIN)/python -m bench --quick $(BENCH_ARGS)

## Debian's wrk, the load generator of the benchmarks
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
