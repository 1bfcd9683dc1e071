# The two commands a newcomer needs: `make run` starts the platform, `make test` runs the tests.
# While coding: `make test-fast` (no Docker, Pulumi, Kubernetes or browser, nothing slow by design; one worker
# per core) and `make lint`.
SHELL := /bin/bash
PY := .venv/bin/python
export RACETRACK_DATA_DIR ?= $(HOME)/.local/share/racetrack
export RACETRACK_CACHE_DIR ?= $(HOME)/.cache/racetrack

.PHONY: setup run test test-kubernetes test-fast lint bench clean platform-up platform-preview platform-destroy platform-output platform-config platform-images

setup:
	@bash scripts/setup.sh

run: setup
	$(PY) -m api.run

# Every skip is listed with its reason (pytest's -ra, set in pyproject.toml), so CI's summary counts it.
test: setup
	$(PY) -m pytest -m "not kubernetes" $(PYTEST_ARGS)

# The tests on the local Kubernetes cluster (started here; `make cluster-down` stops it). Not yet part of
# `make test`: they have not passed on a cluster yet (docs/kubernetes.md, "Status").
test-kubernetes: setup cluster
	$(PY) -m pytest -m kubernetes $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not engine and not browser and not kubernetes and not slow" -n auto $(PYTEST_ARGS)

# Any finding fails: ruff (rules and formatting), mypy --strict (packages listed in pyproject.toml),
# gofmt and go vet on pub's gateway.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	@unformatted="$$(gofmt -l api/pub/gateway)"; \
	  if [[ -n "$$unformatted" ]]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	cd api/pub/gateway && GOFLAGS=-mod=readonly go vet ./...

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

# The local single-node Kubernetes cluster with its registry and ingress (docs/cluster.md). The first run
# builds it (cached in $(RACETRACK_CACHE_DIR)); later runs start it in seconds. Its state stays in
# $(RACETRACK_DATA_DIR)/cluster across `make cluster-down`.
.PHONY: cluster cluster-down cluster-status
cluster:
	@bash scripts/cluster/build.sh
	@bash scripts/cluster/cluster.sh up

cluster-down:
	@bash scripts/cluster/cluster.sh down

cluster-status:
	@bash scripts/cluster/cluster.sh status
