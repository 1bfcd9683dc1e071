#!/usr/bin/env bash
# `build-go-tool.sh NAME MODULE VERSION [PACKAGE]`: `go install`s a program from the Go module proxy into
# $RACETRACK_CACHE_DIR/NAME-VERSION/bin/NAME, once. Used for the cluster's add-ons whose module builds
# as published (CoreDNS, kube-router, local-path-provisioner).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
name="$1" module="$2" version="$3" package="${4:-$2}"
out="$RACETRACK_CACHE_DIR/$name-$version"
cached() { [[ -x "$out/bin/$name" && -f "$out/.complete" ]]; }
if cached; then echo "$name $version: cached in $out"; exit 0; fi
lock_cache_entry "$name-$version"
if cached; then echo "$name $version: built meanwhile by another process, in $out"; exit 0; fi
echo "$name $version: building $package from the Go module proxy (first time only)"
start=$(date +%s)
tmp="$(mktemp -d "$RACETRACK_CACHE_DIR/.$name.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -trimpath -ldflags="-s -w" "$package@$version"
built="$tmp/$(basename "$package")"
mkdir -p "$out/bin"
mv -f "$built" "$out/bin/$name"
touch "$out/.complete"
echo "$name $version: built in $(( $(date +%s) - start ))s into $out/bin"
