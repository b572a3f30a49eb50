# mediahub: `make run` starts everything, `make test` runs the whole suite. Both install what is missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HLS_JS := media/static/vendor/hls.js/hls.min.js
UPPY_JS := media/static/vendor/uppy/uppy.min.js

.PHONY: install install-test run test test-unit lint stop

install:
	@scripts/install-system-packages run
	@$(MAKE) --no-print-directory $(VENV)/.installed $(HLS_JS) $(UPPY_JS)

install-test:
	@scripts/install-system-packages test
	@$(MAKE) --no-print-directory $(VENV)/.installed $(HLS_JS) $(UPPY_JS)

# Browser libraries from the npm registry at the versions package-lock.json pins, served as static files.
NODE_MODULES := node_modules/.package-lock.json
$(NODE_MODULES): package.json package-lock.json
	@command -v npm >/dev/null || { echo "the upload page needs npm to fetch hls.js and Uppy: apt-get install -y npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The upload page's HLS player.
$(HLS_JS): $(NODE_MODULES)
	mkdir -p $(@D) && cp node_modules/hls.js/dist/hls.min.js node_modules/hls.js/LICENSE $(@D)/

# Uppy's prebuilt bundle (@uppy/core with @uppy/aws-s3 among its plugins, as window.Uppy), for the Uppy example page.
$(UPPY_JS): $(NODE_MODULES)
	mkdir -p $(@D) && cp node_modules/uppy/dist/uppy.min.js node_modules/uppy/dist/uppy.min.css node_modules/uppy/LICENSE $(@D)/

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -U pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

run: install
	$(PY) -m mediahub.devstack run

test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	scripts/run-tests

# The engines alone, no services (tests/unit/conftest.py starts nothing): seconds, anywhere.
test-unit: install-test
	$(PY) -m pytest tests/unit

lint: install-test
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/lint-imports

stop:
	$(PY) -m mediahub.devstack down
