#!/usr/bin/env bash
# Builds the provider plugins the stacks use from the Go module proxy, at exactly the versions the
# pinned Python packages request, and installs them into the platform's Pulumi plugin cache.
# Docker resources need no plugin here: see stacks/docker/resources.py and docs/setup.md for why
# neither pulumi-docker nor pulumi-docker-build can serve as the Docker provider on our machines.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
export CGO_ENABLED=0 GOTOOLCHAIN=auto GOFLAGS=-buildvcs=false
PULUMI="$RACETRACK_CACHE_DIR/pulumi/v$PULUMI_VERSION/bin/pulumi"
# The platform's plugin cache (Settings.pulumi_home); RACETRACK_PULUMI_HOME names another one.
export PULUMI_HOME="${RACETRACK_PULUMI_HOME:-$RACETRACK_CACHE_DIR/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
[[ -x "$PULUMI" ]] || { echo "pulumi CLI missing at $PULUMI: run scripts/build-pulumi.sh first" >&2; exit 1; }

install_plugin() {  # name version binary
  local dir="$PULUMI_HOME/plugins/resource-$1-v$2"
  if [[ -x "$dir/pulumi-resource-$1" ]]; then return; fi
  "$PULUMI" plugin install resource "$1" "$2" --file "$3" >/dev/null
  echo "provider $1 v$2: installed into $PULUMI_HOME/plugins"
}

build_kubernetes() {
  local kv="$PULUMI_KUBERNETES_VERSION" out="$RACETRACK_CACHE_DIR/providers/kubernetes-v$PULUMI_KUBERNETES_VERSION"
  if [[ -x "$PULUMI_HOME/plugins/resource-kubernetes-v$kv/pulumi-resource-kubernetes" ]]; then
    echo "provider kubernetes v$kv: installed"; return
  fi
  lock_cache_entry "provider-kubernetes-v$kv"
  if [[ ! -x "$out/pulumi-resource-kubernetes" ]]; then
    # Only this pseudo-version of the provider module is served here; it is the v4.25.0 release.
    local pseudo="v4.0.0-20260115033456-f47bc2d6f199"
    [[ "$kv" == "4.25.0" ]] || { echo "no known provider commit for kubernetes $kv" >&2; exit 1; }
    echo "provider kubernetes v$kv: building from the Go module proxy, needed by Kubernetes targets only" \
      "(first time only: 15-35 minutes on 2 cores; later runs reuse it)"
    local work="$RACETRACK_CACHE_DIR/src/kubernetes-v$kv"
    rm -rf "$work"; mkdir -p "$work" && cd "$work"
    go mod init local/k8sprov >/dev/null 2>&1
    go get "github.com/pulumi/pulumi-kubernetes/provider/v4@$pseudo"
    local src; src="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)/cmd/pulumi-resource-kubernetes"
    mkdir -p cmd/pulumi-resource-kubernetes
    cp "$src"/main.go "$src"/*.json cmd/pulumi-resource-kubernetes/
    chmod -R u+w cmd
    # generate.go normally writes these gitignored embeds; the version is stamped into the schema.
    (cd cmd/pulumi-resource-kubernetes && python3 - "$kv" <<'PY'
import json, sys
schema = json.load(open("schema.json")); schema["version"] = sys.argv[1]
json.dump(schema, open("schema-embed.json", "w"))
json.dump(json.load(open("terraform-mapping.json")), open("terraform-mapping-embed.json", "w"))
PY
    )
    go mod tidy
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$kv" \
      -o "$work/out/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
    mkdir -p "$out"; install -m755 "$work/out/pulumi-resource-kubernetes" "$out/"
    echo "provider kubernetes v$kv: built ($(du -sh "$out" | cut -f1))"
  else
    echo "provider kubernetes v$kv: cached"
  fi
  install_plugin kubernetes "$kv" "$out/pulumi-resource-kubernetes"
}

case "${1:-all}" in
  kubernetes) build_kubernetes ;;
  all) build_kubernetes ;;
  *) echo "usage: $0 [all|kubernetes]" >&2; exit 2 ;;
esac
