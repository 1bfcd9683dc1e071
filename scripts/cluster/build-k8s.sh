#!/usr/bin/env bash
# Builds the one Kubernetes binary (k8s/main.go: apiserver, controller-manager, scheduler, kubelet,
# kube-proxy, kubectl) from the Go module proxy into $RACETRACK_CACHE_DIR/kubernetes-<version>/bin,
# with a symlink per component. Cold: about 10 minutes and 2.2 GB of RAM on 2 cores; cached after.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
kv="$KUBERNETES_VERSION"
out="$RACETRACK_CACHE_DIR/kubernetes-$kv"
# The wrapper's sources are part of the key: an edited main.go or go.sum is never served stale.
key="$(cat "$here/k8s/main.go" "$here/k8s/go.mod" "$here/k8s/go.sum" | sha256sum | cut -c1-16)"
cached() { [[ -x "$out/bin/k8s" && "$(cat "$out/.complete" 2>/dev/null)" == "$key" ]]; }
if cached; then echo "kubernetes $kv: cached in $out"; exit 0; fi
lock_cache_entry "kubernetes-$kv"
if cached; then echo "kubernetes $kv: built meanwhile by another process, in $out"; exit 0; fi
grep -q "k8s.io/kubernetes $kv\$" "$here/k8s/go.mod" ||
  { echo "Error: scripts/cluster/k8s/go.mod is not for $kv; run scripts/cluster/k8s/gen-module.sh" >&2; exit 1; }
echo "kubernetes $kv: building from the Go module proxy (first time only, about 10 minutes on 2 cores)"
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  minor="${kv#v1.}"; minor="${minor%%.*}"
  ld+=" -X $pkg.gitVersion=$kv -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
mkdir -p "$out/bin"
tmp="$(mktemp "$out/bin/.k8s.XXXXXX")"
start=$(date +%s)
(cd "$here/k8s" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
   go build -trimpath -ldflags="$ld" -o "$tmp" .)
mv -f "$tmp" "$out/bin/k8s"
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  ln -sfn k8s "$out/bin/$c"
done
echo "$key" > "$out/.complete"
echo "kubernetes $kv: built in $(( $(date +%s) - start ))s into $out/bin ($(du -h "$out/bin/k8s" | cut -f1))"
