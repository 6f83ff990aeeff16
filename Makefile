# onsale: `make run` starts everything, `make test` runs the whole suite.
# Both create .venv and install exactly what requirements.lock pins (with hashes),
# then the project itself; later runs skip the install unless the lock or
# pyproject.toml changed (the stamp file records the last one).
# `make lock` re-resolves the lock from pyproject.toml (README: "Dependencies: one lock").

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.onsale-installed
LOCK   := requirements.lock
# The resolver lives in its own venv, so it never shows up among the project's packages.
UV_VERSION := 0.13.9
UV_VENV    := $(VENV)/lock-tool
UV         := $(UV_VENV)/bin/uv

.PHONY: install lock run test lint bench cluster cluster-up cluster-down

install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "onsale needs Python 3.11 or newer: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# Keeps every pin the lock already has unless told otherwise:
#   make lock LOCK_ARGS='--upgrade-package redis'   one package (and what it needs)
#   make lock LOCK_ARGS=--upgrade                    everything
lock: | $(BIN)/python
	@test -x $(UV) || { $(PYTHON) -m venv $(UV_VENV) && $(UV_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	$(UV) pip compile pyproject.toml --extra dev --group build --universal \
		--python-version 3.11 --generate-hashes --custom-compile-command 'make lock' \
		--quiet $(LOCK_ARGS) -o $(LOCK)

run: install
	$(BIN)/onsale up

# The whole suite: lint first (ruff, mypy strict on every package, bandit against its
# judged baseline; about 10 s), then every test.
test: install lint
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

# The compose cluster on this machine's Docker (docs/scaling.md, "Cluster on Docker"):
# images built offline from Debian packages, Postgres, a Redis Cluster (3 masters + 3
# replicas), three API replicas behind HAProxy, two partition workers and the rest;
# a surge through the load balancer, audited, then again under a worker pause, a worker
# partition and a Redis master kill. Figures: bench-results/cluster.json. Not part of
# `make test` (about 8 minutes). CLUSTER_ARGS go to loadtests/cluster_run.py
# (--users, --duration, --faults); CLUSTER_PYTHON: a Python that already has onsale.
CLUSTER_PYTHON ?= $(BIN)/python
CLUSTER_ARGS   ?=
CLUSTER_INSTALL := $(if $(filter $(BIN)/python,$(CLUSTER_PYTHON)),install)
CLUSTER_COMPOSE := docker-compose -p onsale-cluster -f deploy/cluster/docker-compose.yml

cluster: $(CLUSTER_INSTALL)
	deploy/docker/build-images.sh
	$(CLUSTER_PYTHON) -m loadtests.cluster_run --fresh $(CLUSTER_ARGS)

cluster-up: $(CLUSTER_INSTALL)
	deploy/docker/build-images.sh
	$(CLUSTER_PYTHON) -m loadtests.cluster_run --up-only

cluster-down:
	$(CLUSTER_COMPOSE) down --volumes --remove-orphans
