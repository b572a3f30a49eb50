# mediahub: `make run` starts everything, `make test` runs the whole suite. Both install what is missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install install-test run test lint stop

install:
	@scripts/install-system-packages run
	@$(MAKE) --no-print-directory $(VENV)/.installed

install-test:
	@scripts/install-system-packages test
	@$(MAKE) --no-print-directory $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -U pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

run: install
	$(PY) -m mediahub.devstack run

test: install-test
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

stop:
	$(PY) -m mediahub.devstack down
