# make demo  - create the virtual environment, install, run the demo
# make test  - same set-up, install what the tests need (chromium), lint and run every test
# make bench - run the benchmarks and print one table
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
PLUGIN := tests/plugin_example

.PHONY: venv demo test lint bench browser azurite clean

$(STAMP): setup.cfg pyproject.toml $(wildcard $(PLUGIN)/setup.cfg $(PLUGIN)/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(if $(wildcard $(PLUGIN)/pyproject.toml),-e $(PLUGIN))
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m artifacts.demo

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Azurite (Azure Blob Storage's emulator, from npm) for the az:// tests, in a folder git ignores
AZURITE_DIR := .cache/azurite
AZURITE := $(AZURITE_DIR)/node_modules/.bin/azurite-blob

$(AZURITE):
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing Debian's nodejs and npm for Azurite"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	mkdir -p $(AZURITE_DIR)
	npm install --prefix $(AZURITE_DIR) --no-audit --no-fund --loglevel=error azurite@3

azurite: $(AZURITE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check media artifacts schemas

test: $(STAMP) browser azurite lint
	$(BIN)/python -m pytest

# the peers the benchmarks measure against (HF datasets, WebDataset)
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .cache build *.egg-info .pytest_cache .ruff_cache .hypothesis
