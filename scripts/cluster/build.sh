#!/usr/bin/env bash
# Everything `make cluster` needs before it starts: Debian packages, the Docker engine (it builds and
# pushes the cluster's images), and the binaries built from the Go module proxy, each cached by version.
# The Kubernetes binary (the longest build) compiles beside the add-ons: each Go build has stretches of
# one busy core (linking, single large packages), which the other fills.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
bash "$here/packages.sh"
bash "$here/../ensure-docker.sh"
logs="$RACETRACK_CACHE_DIR/logs"
mkdir -p "$logs"
addons() {
  bash "$here/build-go-tool.sh" coredns github.com/coredns/coredns "$COREDNS_VERSION"
  bash "$here/build-go-tool.sh" local-path-provisioner github.com/rancher/local-path-provisioner \
    "$LOCAL_PATH_PROVISIONER_VERSION"
  bash "$here/build-go-tool.sh" kube-router github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION" \
    github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
  bash "$here/build-traefik.sh"
}
start=$(date +%s)
bash "$here/build-k8s.sh" >"$logs/build-kubernetes.log" 2>&1 &
k8s=$!
addons >"$logs/build-cluster-addons.log" 2>&1 &
add=$!
failed=""
wait $k8s || failed+=" $logs/build-kubernetes.log"
wait $add || failed+=" $logs/build-cluster-addons.log"
grep -h -E '^[a-z-]+ v[0-9]' "$logs/build-kubernetes.log" "$logs/build-cluster-addons.log" || true
[[ -z "$failed" ]] || { echo "Error: a cluster build failed; see$failed" >&2; exit 1; }
echo "cluster binaries ready in $(( $(date +%s) - start ))s"
