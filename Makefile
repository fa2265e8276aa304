# nb_oauth — everything a fresh machine with Python 3.11+ and make needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DEMO_PORT ?= 8750
LAB_PORT  ?= 8888

.PHONY: test lint demo demo-venv demo-provider bench bench-quick install clean hub-proxy

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install when the project's dependencies change.
$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e ".[test]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e ".[bench]"
	touch $@

$(VENV)/.installed-notebook: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e ".[notebook]"
	touch $@

install: $(VENV)/.installed-notebook

# django-oauth-toolkit, the tests' second authorization server, with the oauthlib it needs (see pyproject.toml).
DOT_VENV ?= .venv-dot
$(DOT_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DOT_VENV)
	$(DOT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DOT_VENV)/bin/python -m pip install --quiet -e ".[dot-server]"
	touch $@

# Exactly what `make demo` installs, in a venv of its own: the notebooks are tested under it.
DEMO_VENV ?= .venv-demo
demo-venv:
	$(MAKE) VENV=$(DEMO_VENV) $(DEMO_VENV)/.installed-notebook

# panva's oidc-provider (npm), the certified server of the DPoP / PAR / JAR / FAPI 2.0 tests.
OIDC_PROVIDER := tests/servers/oidc_provider
$(OIDC_PROVIDER)/node_modules/.installed: $(OIDC_PROVIDER)/package.json $(OIDC_PROVIDER)/package-lock.json
	cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# learn-oauth's part on DPoP, signed client auth and PAR runs against oidc-provider: installed when npm is there.
demo-provider:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(OIDC_PROVIDER)/node_modules/.installed; \
	else echo "npm not found: learn-oauth.ipynb skips its DPoP / PAR part (it needs Node.js and oidc-provider)."; fi

# configurable-http-proxy for the JupyterHub tests (tests/hub), pinned by its lock file.
HUB_PROXY := tests/servers/hub
$(HUB_PROXY)/node_modules/.package-lock.json: $(HUB_PROXY)/package.json $(HUB_PROXY)/package-lock.json
	cd $(HUB_PROXY) && npm ci --no-audit --no-fund
	touch $@

hub-proxy: $(HUB_PROXY)/node_modules/.package-lock.json

test: $(VENV)/.installed-test $(OIDC_PROVIDER)/node_modules/.installed $(HUB_PROXY)/node_modules/.package-lock.json $(DOT_VENV)/.installed demo-venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check nb_oauth tests benchmarks notebooks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

demo: $(VENV)/.installed-notebook demo-provider
	$(PY) -m nb_oauth.demo.launch --port $(DEMO_PORT) --lab-port $(LAB_PORT) --notebook notebooks/quickstart.ipynb

bench: $(VENV)/.installed-bench $(OIDC_PROVIDER)/node_modules/.installed
	$(PY) -m benchmarks.run

bench-quick: $(VENV)/.installed-test $(OIDC_PROVIDER)/node_modules/.installed
	$(PY) -m benchmarks.run --quick

clean:
	rm -rf $(VENV) $(DOT_VENV) $(DEMO_VENV) build *.egg-info .pytest_cache $(HUB_PROXY)/node_modules $(OIDC_PROVIDER)/node_modules
