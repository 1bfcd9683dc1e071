# The two commands a newcomer needs: `make run` starts the platform, `make test` runs the tests.
SHELL := /bin/bash
PY := .venv/bin/python
export RACETRACK_DATA_DIR ?= $(HOME)/.local/share/racetrack
export RACETRACK_CACHE_DIR ?= $(HOME)/.cache/racetrack

.PHONY: setup run test bench clean

setup:
	@bash scripts/setup.sh

run: setup
	$(PY) -m api.run

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf .venv .pytest_cache
