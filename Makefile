# Development entry points. A newcomer needs two: `make run` and `make test` (README.md).
#
# RULEBOOK, CLOCK, DATABASE_URL, INSTANCE_PATH … are read from the environment by the app, so
# `RULEBOOK=demo CLOCK=simulated make run` (or `make run RULEBOOK=demo`) just works.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input
FLASK := $(BIN)/flask --app wsgi
PYTEST := $(BIN)/python -m pytest
ARTIFACTS := test-artifacts
# Tests must not depend on the developer's shell: drop the variables that change the app's
# behaviour (the tests choose their database themselves; see tests/conftest.py).
TEST_ENV := env -u RULEBOOK -u CLOCK -u DATABASE_URL
HOST ?= 127.0.0.1
PORT ?= 5000

# WeasyPrint's libraries and the CJK font (without libharfbuzz-subset0 Chinese PDFs are 14x slower).
RUNTIME_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
# Tests also read PDFs (poppler) and drive a browser (Debian's chromium; never `playwright install`).
TEST_DEBS := $(RUNTIME_DEBS) poppler-utils chromium

PO_FILES := $(wildcard */translations/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: help run setup test lint test-sqlite test-postgres test-e2e translations \
        compile-translations system-packages system-packages-test clean

help:
	@echo "make run                   set everything up and serve http://$(HOST):$(PORT) (demo data, scheduler)"
	@echo "make test                  ruff, pytest on SQLite, on PostgreSQL (when reachable), browser tests"
	@echo "make test-sqlite | test-postgres | test-e2e | lint   one part of 'make test'"
	@echo "make translations          extract messages and update the zh_CN catalogues (developers)"
	@echo "make compile-translations  compile the catalogues (.mo, not committed)"
	@echo "make clean                 remove the virtualenv, compiled catalogues and test artifacts"

# --- Python environment ------------------------------------------------------------------------

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON) is $$($(PYTHON) --version 2>&1))" >&2; exit 1; }
	@# Debian's own python3 needs python3-venv for ensurepip.
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); bash scripts/install-system-packages.sh python3-venv && $(PYTHON) -m venv $(VENV); }

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(PIP) install -q -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements-dev.txt requirements.txt | $(BIN)/python
	$(PIP) install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

# --- System packages (Debian; installed only when missing and we are root or have sudo) --------

system-packages:
	@bash scripts/install-system-packages.sh $(RUNTIME_DEBS)

system-packages-test:
	@bash scripts/install-system-packages.sh $(TEST_DEBS)

# --- Translations ------------------------------------------------------------------------------

compile-translations: $(MO_FILES)

%.mo: %.po $(VENV)/.runtime-installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

translations: $(VENV)/.runtime-installed
	bash scripts/update-translations.sh
	@$(MAKE) --no-print-directory compile-translations

# --- Run ---------------------------------------------------------------------------------------

setup: $(VENV)/.runtime-installed system-packages compile-translations
	$(FLASK) db upgrade
	$(FLASK) seed-demo

run: setup
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(FLASK) serve --host $(HOST) --port $(PORT)

# --- Tests -------------------------------------------------------------------------------------
# `make test` runs every part in order, even after one fails (-k), and fails if any did.
# JUnit reports go to test-artifacts/ (with the browser tests' screenshots); .ci/run reads them.

test:
	@$(MAKE) --no-print-directory -j1 -k lint test-sqlite test-postgres test-e2e || \
	  { echo "make test: FAILED (see the errors above)" >&2; exit 1; }
	@echo "make test: all passed"

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

test-sqlite: $(VENV)/.dev-installed system-packages-test compile-translations
	@mkdir -p $(ARTIFACTS) && rm -f $(ARTIFACTS)/junit-sqlite.xml
	@echo "== pytest on SQLite"
	$(TEST_ENV) -u TEST_DATABASE_URL $(PYTEST) -m "not e2e" --junitxml=$(ARTIFACTS)/junit-sqlite.xml

# PostgreSQL: TEST_DATABASE_URL if set (then it must work), else the local server if it answers.
# REQUIRE_POSTGRES=1 (CI) turns "not reachable" into a failure.
test-postgres: $(VENV)/.dev-installed system-packages-test compile-translations
	@mkdir -p $(ARTIFACTS) && rm -f $(ARTIFACTS)/junit-postgres.xml
	@if url=$$(PYTHON=$(BIN)/python bash scripts/test-postgres.sh); then \
	  echo "== pytest on PostgreSQL (server $$url; a fresh database is created and dropped)"; \
	  $(TEST_ENV) TEST_DATABASE_URL="$$url" $(PYTEST) -m "not e2e" --junitxml=$(ARTIFACTS)/junit-postgres.xml; \
	elif [ -n "$${TEST_DATABASE_URL:-}" ] || [ "$${REQUIRE_POSTGRES:-}" = 1 ]; then \
	  echo "PostgreSQL is required but not usable (see above)" >&2; exit 1; \
	else \
	  echo "== PostgreSQL not reachable: SKIPPING the PostgreSQL run (set TEST_DATABASE_URL to use one)"; \
	fi

test-e2e: $(VENV)/.dev-installed system-packages-test compile-translations
	@mkdir -p $(ARTIFACTS) && rm -f $(ARTIFACTS)/junit-e2e.xml
	@echo "== browser tests (Playwright + $${CHROMIUM_PATH:-/usr/bin/chromium}, SQLite live server)"
	$(TEST_ENV) -u TEST_DATABASE_URL $(PYTEST) -m e2e tests/e2e --junitxml=$(ARTIFACTS)/junit-e2e.xml

clean:
	rm -rf $(VENV) $(ARTIFACTS) .pytest_cache .ruff_cache
	find . -path ./.git -prune -o -name '*.mo' -path '*/translations/*' -print -delete
