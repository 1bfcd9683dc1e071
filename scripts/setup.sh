#!/usr/bin/env bash
# `make setup`: everything the platform and its tests need on this machine. Idempotent; heavy
# outputs are cached in $RACETRACK_CACHE_DIR keyed by version, so a second run takes seconds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
. "$here/versions.sh"
step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

step "Python virtual environment (.venv)"
cd "$root"
[[ -x .venv/bin/python ]] || python3 -m venv .venv
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]'
  rm -f .venv/.installed-*; touch "$stamp"
fi
echo "project installed in editable mode"
bash "$here/link-cli.sh"

# What the default target (Docker) needs, in the order it is needed: the engine and the base images
# first, then pub and the Pulumi CLI. The Kubernetes provider (15-35 minutes to build) is not built here:
# the first Kubernetes deploy, render or test builds it (stacks/providers.py, scripts/build-providers.sh).
step "Docker engine"
bash "$here/ensure-docker.sh"
step "Base images"
bash "$here/build-base-images.sh"

step "Pub gateway (Go)"
bash "$here/build-pub.sh"

step "Pulumi CLI v$PULUMI_VERSION"
bash "$here/build-pulumi.sh"
step "Python language host (pulumi-language-python)"
# Pulumi's Go language host is not served by the Go module proxy; ours (stacks/language_host.py) lets
# `pulumi up` run local Python programs such as the platform bootstrap in platform/.
.venv/bin/python -m stacks.language_host install "$RACETRACK_CACHE_DIR/pulumi/v$PULUMI_VERSION/bin"
step "Pulumi provider plugins"
if [[ -x "$RACETRACK_CACHE_DIR/pulumi-home/plugins/resource-kubernetes-v$PULUMI_KUBERNETES_VERSION/pulumi-resource-kubernetes" ]]; then
  echo "provider kubernetes v$PULUMI_KUBERNETES_VERSION: installed"
elif [[ "${RACETRACK_SETUP_KUBERNETES:-false}" == true ]]; then
  bash "$here/build-providers.sh" kubernetes
else
  echo "provider kubernetes v$PULUMI_KUBERNETES_VERSION: left for the first Kubernetes deploy, render or test" \
    "(builds once, 15-35 min); to build it now: RACETRACK_SETUP_KUBERNETES=true make setup"
fi
step "Terminal tools (tmux, for the terminal walk-through test)"
if command -v tmux >/dev/null; then echo "tmux: present"; else
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tmux >/dev/null
  echo "tmux: installed"
fi
step "Upstream racetrack-client 2.35 (the compatibility tests run it; installed once, cached)"
.venv/bin/python -m tests.client.upstream
printf '\nsetup done in %ss\n' "$(( $(date +%s) - start ))"
