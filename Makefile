# Two entry points: `make demo` (install, convert a sample notebook, run its pipeline)
# and `make test` (install what the tests need, run the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NB2PIPE := $(VENV)/bin/nb2pipe
# Browser tests use Debian's chromium; no tool may download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: demo test test-unit test-integration lint bench clean chromium engine-envs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

demo: $(VENV)/.installed
	$(NB2PIPE) convert sample_notebooks/wine_classifier.ipynb -o pipelines/wine
	$(PY) -m pipelines.wine

test: $(VENV)/.installed chromium engine-envs
	$(PY) -m pytest -n 2 --dist loadgroup

test-unit: $(VENV)/.installed
	$(PY) -m pytest -m "not integration"

test-integration: $(VENV)/.installed chromium engine-envs
	$(PY) -m pytest -m integration

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check nb2pipe tests benchmarks
	$(VENV)/bin/ruff format --check nb2pipe tests benchmarks

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_convert.py

# The engines' venvs (Airflow, KFP, check-jsonschema) for tests/exporters, built two at a
# time and cached in ~/.cache/nb2pipe-test-envs/<engine>-<hash>/ (quick when up to date).
# The tests build them on first use too; this only does it ahead of pytest, in parallel.
engine-envs: $(VENV)/.installed
	$(PY) tests/engines/engine_envs.py

# Debian's chromium for the browser tests (tests/viz); run as root (as in CI).
chromium:
	@test -x /usr/bin/chromium || { apt-get update && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; }

clean:
	rm -rf $(VENV) pipelines runs build dist *.egg-info
