#!/usr/bin/env bash
# `make platform-up|platform-preview|platform-destroy|platform-output`: runs the locally built Pulumi CLI
# on the platform program (Pulumi.yaml, platform/) with the environment it needs on this machine:
# the CLI and our language host on PATH, the shared plugin cache, a file backend and a passphrase kept
# in the data directory (generated on first use, mode 0600). Usage: scripts/platform.sh COMMAND [ARGS...]
# with STACK (default: local) selecting the stack. Pulumi runs in $RACETRACK_DATA_DIR/platform-project,
# whose stack file starts as a copy of the tracked Pulumi.$STACK.yaml (scripts/platform_project.py): what
# Pulumi writes for this installation (encryption salt, config set) stays with its state and passphrase,
# and the checkout's files are never modified.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
. "$here/versions.sh"
RACETRACK_DATA_DIR="${RACETRACK_DATA_DIR:-$HOME/.local/share/racetrack}"
STACK="${STACK:-local}"
bin="$RACETRACK_CACHE_DIR/pulumi/v$PULUMI_VERSION/bin"
[[ -x "$bin/pulumi" ]] || { echo "the Pulumi CLI is missing in $bin: run make setup" >&2; exit 1; }
# This checkout's language host, first on PATH: the shared one in $bin runs whichever checkout ran
# `make setup` last, which may be gone.
host_bin="$root/.venv/pulumi-language-host"
"$root/.venv/bin/python" -m stacks.language_host install "$host_bin" >/dev/null
state="$RACETRACK_DATA_DIR/platform-state"
passphrase="$RACETRACK_DATA_DIR/secrets/platform-passphrase"
mkdir -p "$state" && chmod 700 "$state"
if [[ ! -s "$passphrase" ]]; then
  mkdir -p "$(dirname "$passphrase")" && chmod 700 "$(dirname "$passphrase")"
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$passphrase")
fi
export PATH="$host_bin:$bin:$PATH" PULUMI_HOME="$RACETRACK_CACHE_DIR/pulumi-home" PULUMI_BACKEND_URL="file://$state" \
  PULUMI_CONFIG_PASSPHRASE_FILE="$passphrase" PULUMI_SKIP_UPDATE_CHECK=true \
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_PYTHON_CMD="$root/.venv/bin/python"
# The dynamic providers (stacks/) run in processes the engine starts: they import this checkout.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
project="$("$root/.venv/bin/python" "$here/platform_project.py" "$root" "$RACETRACK_DATA_DIR" "$STACK")"
cd "$project"
# A Kubernetes stack needs the Kubernetes provider, which `make setup` leaves for its first use.
if grep -qE '^\s*racetrack:target:\s*"?kubernetes' "Pulumi.$STACK.yaml" 2>/dev/null; then
  bash "$here/build-providers.sh" kubernetes
fi
pulumi stack select "$STACK" >/dev/null 2>&1 || pulumi stack init "$STACK"
command="${1:-preview}"; shift || true
case "$command" in
  up) pulumi up --stack "$STACK" "$@" ;;   # shows the preview and asks before changing anything
  preview) pulumi preview --diff --stack "$STACK" "$@" ;;
  destroy) pulumi destroy --stack "$STACK" "$@" ;;
  output) pulumi stack output --stack "$STACK" "$@" ;;
  *) pulumi "$command" "$@" ;;
esac
