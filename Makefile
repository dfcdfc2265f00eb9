# Two entry points: `make demo` (install, convert a sample notebook, run its pipeline)
# and `make test` (install what the tests need, run the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NB2PIPE := $(VENV)/bin/nb2pipe

.PHONY: demo test test-unit test-integration lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

demo: $(VENV)/.installed
	$(NB2PIPE) convert sample_notebooks/wine_classifier.ipynb -o pipelines/wine
	$(PY) -m pipelines.wine

test: $(VENV)/.installed
	$(PY) -m pytest -n 2 --dist loadgroup

test-unit: $(VENV)/.installed
	$(PY) -m pytest -m "not integration"

test-integration: $(VENV)/.installed
	$(PY) -m pytest -m integration

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check nb2pipe tests benchmarks
	$(VENV)/bin/ruff format --check nb2pipe tests benchmarks

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_convert.py

clean:
	rm -rf $(VENV) pipelines runs build dist *.egg-info
