# almaview: the two commands a newcomer needs are `make demo` and `make test`.
# Each one creates .venv (Python >= 3.11) and installs almaview into it on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.almaview-installed
NOTEBOOK ?= notebooks/01-quickstart.ipynb
# No display (a server, CI, a container): do not try to open a browser.
LAB_FLAGS ?= $(if $(DISPLAY)$(filter Darwin,$(shell uname -s)),,--no-browser)
LAB_PORT ?= 8888

.PHONY: demo test bench binder-check screenshots clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("almaview needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,browser]'
	touch $@

## demo: build the demo delivery (cached) and open the quickstart notebook in JupyterLab (prints the URL; works as root)
demo: $(STAMP)
	$(BIN)/almaview demo
	$(BIN)/python scripts/demo_lab.py --port $(LAB_PORT) $(LAB_FLAGS) $(NOTEBOOK)

## test: the whole test suite (builds its CASA test data once, cached in .pytest_cache)
test: $(STAMP)
	$(BIN)/ruff check almaview tests benchmarks scripts
	$(BIN)/ruff format --check almaview tests benchmarks scripts
	-scripts/ensure_chromium.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: the benchmarks (builds a >= 1 GB ALMA-like MS once, cached in bench-data/)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

## binder-check: build binder/ in a fresh venv (as repo2docker would), run postBuild and every notebook (slow)
binder-check: $(STAMP)
	$(BIN)/python scripts/binder_check.py $(BINDER_ARGS)

## screenshots: regenerate docs/img/*.png (the README's screenshots) in headless Chromium
screenshots: $(STAMP)
	scripts/ensure_chromium.sh
	$(BIN)/python scripts/screenshots.py

clean-venv:
	rm -rf $(VENV)
