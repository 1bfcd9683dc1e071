#!/usr/bin/env bash
# Regenerates go.mod/go.sum of the one-binary build for another Kubernetes version:
#   KUBERNETES_VERSION=v1.34.5 scripts/cluster/k8s/gen-module.sh
# k8s.io/kubernetes points its staging modules (k8s.io/api, client-go, ...) at ./staging, which a
# dependent module cannot use; each is replaced by its published tag v0.<minor>.<patch> instead.
set -euo pipefail
cd "$(dirname "$0")"
. ../versions.sh
kv="$KUBERNETES_VERSION"
sv="v0.${kv#v1.}"
go mod download "k8s.io/kubernetes@$kv"
upstream="$(go env GOMODCACHE)/k8s.io/kubernetes@$kv/go.mod"
{
  printf 'module racetrack.local/cluster/k8s\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$kv"
  awk -v sv="$sv" '$2 == "=>" && $3 ~ /^\.\/staging/ {print "\t" $1 " => " $1 " " sv}' "$upstream"
  echo ")"
} > go.mod
rm -f go.sum
go mod tidy
echo "go.mod: k8s.io/kubernetes $kv, staging modules $sv"
