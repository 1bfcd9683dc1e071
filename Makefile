# The two commands a newcomer needs: `make run` starts the platform, `make test` runs the tests.
SHELL := /bin/bash
PY := .venv/bin/python
export RACETRACK_DATA_DIR ?= $(HOME)/.local/share/racetrack
export RACETRACK_CACHE_DIR ?= $(HOME)/.cache/racetrack

.PHONY: setup run test bench clean platform-up platform-preview platform-destroy platform-output platform-config platform-images

setup:
	@bash scripts/setup.sh

run: setup
	$(PY) -m api.run

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m tests.bench $(BENCH_ARGS)

# The platform itself, installed with Pulumi (README, "Install the platform with Pulumi"); STACK=local by default.
platform-up: setup
	bash scripts/platform.sh up $(PULUMI_ARGS)

platform-preview: setup
	bash scripts/platform.sh preview $(PULUMI_ARGS)

platform-destroy:
	bash scripts/platform.sh destroy $(PULUMI_ARGS)

platform-output:
	bash scripts/platform.sh output $(PULUMI_ARGS)

# This installation's stack configuration (kept in the data directory), e.g. PULUMI_ARGS="set racetrack:pubPort 7205"
platform-config:
	bash scripts/platform.sh config $(PULUMI_ARGS)

# Images for a Kubernetes install: REGISTRY=registry.example.com/racetrack TAG=0.1.0 make platform-images
platform-images:
	bash scripts/platform-images.sh

clean:
	rm -rf .venv .pytest_cache
