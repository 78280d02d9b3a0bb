# make demo  - create the virtual environment, install, run the demo
# make test  - same set-up, install what the tests need (chromium, sox with MP3), lint and
#              run every test
# make bench - run the benchmarks and print one table
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PLUGIN := tests/plugin_example

.PHONY: venv demo test lint bench browser encoders clean

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

# a real MP3 encoder (LAME, through sox) for tests/test_mp3.py
encoders:
	@sox -h 2>/dev/null | grep -i 'file formats' | grep -qw mp3 || { \
	  echo "installing Debian's sox with its MP3 formats for the MP3 tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq sox libsox-fmt-mp3 >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check media artifacts schemas

test: $(STAMP) browser encoders lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
