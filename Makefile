# make demo  - create the virtual environment, install the library (run-time dependencies
#              only), run the demo
# make test  - same set-up plus the test extra and what the tests need (chromium, sox with
#              MP3, Azurite), lint and run every test
# make bench - run the benchmarks and print one table
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGIN := tests/plugin_example
# one stamp per set of packages: the demo's install never pulls in the test extra
RUNTIME_STAMP := $(VENV)/.runtime-stamp
TEST_STAMP := $(VENV)/.test-stamp
# "compat" editable installs put the checkout itself on sys.path: a folder named artifacts/
# or media/ in the current directory cannot shadow the packages then (the default mode's
# import hook comes after such folders; see tests/test_newuser.py)
EDITABLE := --config-settings editable_mode=compat

.PHONY: venv demo test lint bench browser encoders azurite clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(EDITABLE) -e .
	touch $@

$(TEST_STAMP): $(RUNTIME_STAMP) $(wildcard $(PLUGIN)/setup.cfg $(PLUGIN)/pyproject.toml)
	$(BIN)/python -m pip install --quiet $(EDITABLE) -e '.[test]' \
	  $(if $(wildcard $(PLUGIN)/pyproject.toml),-e $(PLUGIN))
	touch $@

venv: $(TEST_STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/python -m artifacts.demo

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# a real MP3 encoder (LAME, through sox) for tests/test_mp3.py
encoders:
	@sox -h 2>/dev/null | grep -i 'file formats' | grep -qw mp3 || { \
	  echo "installing Debian's sox with its MP3 formats for the MP3 tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq sox libsox-fmt-mp3 >/dev/null; }

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check media artifacts schemas

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

test: $(TEST_STAMP) browser encoders azurite lint
	$(BIN)/python -m pytest

# the peers the benchmarks measure against (HF datasets, WebDataset)
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet $(EDITABLE) -e '.[test,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
