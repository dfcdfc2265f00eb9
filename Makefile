# Two entry points: `make demo` (install, convert a sample notebook, run its pipeline)
# and `make test` (install what the tests need, run the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NB2PIPE := $(VENV)/bin/nb2pipe
# Browser tests use Debian's chromium; no tool may download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: demo test test-unit test-integration lint bench clean chromium postgresql engine-envs

# nb2pipe-runtime (nb2pipe/runtime/pyproject.toml) first, editable in compat mode: its .pth
# puts the checkout on sys.path, so `import nb2pipe` finds the real package from any folder
# (a strict editable install would make nb2pipe an empty namespace package there).
$(VENV)/.installed: pyproject.toml nb2pipe/runtime/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --config-settings editable_mode=compat -e nb2pipe/runtime
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

demo: $(VENV)/.installed
	$(NB2PIPE) convert sample_notebooks/wine_classifier.ipynb -o pipelines/wine
	$(PY) -m pipelines.wine

test: $(VENV)/.installed chromium postgresql engine-envs lab-test-ts lab-test-py
	$(PY) -m pytest -n 2 --dist loadgroup

test-unit: $(VENV)/.installed
	$(PY) -m pytest -m "not integration"

test-integration: $(VENV)/.installed chromium postgresql lab-install engine-envs
	$(PY) -m pytest -m integration

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check nb2pipe tests benchmarks
	$(VENV)/bin/ruff format --check nb2pipe tests benchmarks

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_convert.py
	$(PY) benchmarks/bench_runtime.py
	$(PY) benchmarks/bench_serve.py

# The engines' venvs (Airflow, KFP, check-jsonschema) for tests/exporters, built two at a
# time and cached in ~/.cache/nb2pipe-test-envs/<engine>-<hash>/ (quick when up to date).
# The tests build them on first use too; this only does it ahead of pytest, in parallel.
engine-envs: $(VENV)/.installed
	$(PY) tests/engines/engine_envs.py

# -- JupyterLab extension (jupyterlab/: the nb2pipe-lab companion package) -------------------
# Its built assets are committed, so `pip install ./jupyterlab` needs no Node.js. lab-build
# rebuilds them (npm ci, then the JupyterLab extension builder) when a source changed or the
# node_modules are fresh (always in a new clone, so CI builds); it needs Node.js >= 18 and
# JupyterLab in $(VENV).
LAB := jupyterlab
LAB_ASSETS := $(LAB)/nb2pipe_lab/labextension/package.json
LAB_SOURCES := $(wildcard $(LAB)/src/*.ts) $(wildcard $(LAB)/style/*) $(LAB)/schema/plugin.json \
	$(LAB)/package.json $(LAB)/tsconfig.json
LAB_PY := $(wildcard $(LAB)/nb2pipe_lab/*.py) $(LAB)/pyproject.toml
NPM_CI := $(LAB)/node_modules/.package-lock.json

$(VENV)/.lab-tools: $(VENV)/.installed
	$(PY) -m pip install --quiet 'jupyterlab>=4,<5' 'pytest-jupyter[server]>=0.6'
	touch $@

$(NPM_CI): $(LAB)/package-lock.json
	cd $(LAB) && npm ci --no-audit --no-fund
	touch $@

$(LAB_ASSETS): $(NPM_CI) $(LAB_SOURCES) $(VENV)/.lab-tools
	cd $(LAB) && PATH="$(abspath $(VENV))/bin:$$PATH" npm run build:prod
	touch $@

lab-build: $(LAB_ASSETS)

$(VENV)/.lab-installed: $(LAB_ASSETS) $(LAB_PY)
	$(PY) -m pip install --quiet './$(LAB)[test]'
	touch $@

lab-install: $(VENV)/.lab-installed

lab-test-ts: $(NPM_CI)
	cd $(LAB) && npm test

lab-test-py: $(VENV)/.lab-installed
	$(PY) -m pytest $(LAB)/tests -p no:cacheprovider

# The README's screenshots, taken by the end-to-end test.
lab-screenshots: $(VENV)/.lab-installed chromium
	NB2PIPE_LAB_SCREENSHOTS=$(LAB)/docs $(PY) -m pytest tests/lab -p no:cacheprovider

# Debian's chromium for the browser tests (tests/viz); run as root (as in CI).
chromium:
	@test -x /usr/bin/chromium || { apt-get update && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; }

# Debian's PostgreSQL server binaries for the prediction log's tests (tests/mlops start
# their own server from /usr/lib/postgresql/*/bin in a temporary folder); run as root.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }

clean:
	rm -rf $(VENV) pipelines runs build dist *.egg-info $(LAB)/node_modules $(LAB)/lib
