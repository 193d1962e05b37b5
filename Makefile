# Two commands for a newcomer: `make demo` and `make test`. Everything they need is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_DIR ?= demo-data

.PHONY: install demo test lint typecheck unit browser chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Seed a demo organisation in ./demo-data (once) and serve it on http://127.0.0.1:8000
demo: $(STAMP)
	$(BIN)/haven demo --data-dir $(DEMO_DIR) --host 127.0.0.1 --port 8000

## Install everything the tests need (Python dev deps, Debian's chromium) and run every test
test: $(STAMP) chromium lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

## Debian's chromium for the Playwright browser tests (the project never downloads a browser)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
