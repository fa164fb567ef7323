# watchfloor: `make demo` runs the main job, `make test` runs the whole suite. Both set up everything.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The install (and the C extensions' build) is redone when what it is made from changes.
BUILD_INPUTS := pyproject.toml setup.py detectors/plates/_platetable.c detectors/plates/_recent.c detectors/plates/_columns.c detectors/plates/_keyfilter.c
STAMP := $(VENV)/.installed-$(shell cat $(BUILD_INPUTS) | sha1sum | cut -c1-12)

.PHONY: venv demo test lint unit integration bench schemas browser compiler clean

venv: $(STAMP)

$(STAMP): $(BUILD_INPUTS) | compiler
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: venv
	$(BIN)/watchfloor demo

# A C compiler and Python's headers for the C extensions (the held reads' store, setup.py).
compiler:
	@command -v gcc >/dev/null || { \
	  echo "installing Debian gcc for watchfloor's C extensions"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; }
	@$(PYTHON) -c 'import os, sysconfig; raise SystemExit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' || { \
	  echo "installing Debian $(PYTHON)-dev (Python.h) for watchfloor's C extensions"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PYTHON)-dev >/dev/null; }

# Debian's Chromium for the console's browser test (nothing downloads a browser at run time).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m schemas.generate --check

test: venv lint browser
	$(BIN)/pytest -q -p no:cacheprovider --durations=15

schemas: venv
	$(BIN)/python -m schemas.generate

bench: venv
	@mkdir -p bench/results
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build detectors/plates/_*.so
