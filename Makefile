# onsale: `make run` starts everything, `make test` runs the whole suite.
# Both create .venv and install the project on first use; later runs skip the
# install unless pyproject.toml changed (the stamp file records the last one).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.onsale-installed

.PHONY: install run test lint bench

install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "onsale needs Python 3.11 or newer: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: install
	$(BIN)/onsale up

test: install
	@sh tests/browser/ensure_chromium.sh
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/bandit -c pyproject.toml -r engine waitingroom workers api loadtests -q -b .bandit-baseline.json

# Every loadtests/bench_*.py in turn; `make bench BENCH_ARGS=--quick` for a short run.
bench: install
	@names="$$($(BIN)/onsale bench --list)"; \
	if [ -z "$$names" ]; then echo "no benchmarks yet (loadtests/bench_*.py)"; fi; \
	for name in $$names; do $(BIN)/onsale bench $$name $(BENCH_ARGS) || exit 1; done
