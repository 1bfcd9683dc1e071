#!/usr/bin/env bash
# Builds Traefik (the cluster's ingress controller) from the Go module proxy into
# $RACETRACK_CACHE_DIR/traefik-<version>/bin/traefik. Its published module does not build as is; three
# workarounds, documented in docs/cluster.md:
#   1. pkg/config/dynamic/ext is missing from the module zip: traefik/ext is a stand-in with the two
#      empty types Traefik embeds;
#   2. its pinned github.com/containous/go-http-auth commit is not served: go.mod replaces it with an
#      earlier commit of the same fork;
#   3. 13 of lego's 220 DNS-01 providers need SDK versions the proxy does not serve: a copy of lego
#      without them (strip-lego-providers.sh) replaces lego.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
v="$TRAEFIK_VERSION"
out="$RACETRACK_CACHE_DIR/traefik-$v"
key="$(cat "$here"/traefik/go.mod "$here"/traefik/go.sum "$here"/traefik/ext/* "$here/strip-lego-providers.sh" | sha256sum | cut -c1-16)"
cached() { [[ -x "$out/bin/traefik" && "$(cat "$out/.complete" 2>/dev/null)" == "$key" ]]; }
if cached; then echo "traefik $v: cached in $out"; exit 0; fi
lock_cache_entry "traefik-$v"
if cached; then echo "traefik $v: built meanwhile by another process, in $out"; exit 0; fi
echo "traefik $v: building from the Go module proxy (first time only, about 4 minutes on 2 cores)"
start=$(date +%s)
export GOFLAGS=-buildvcs=false CGO_ENABLED=0
work="$RACETRACK_CACHE_DIR/src/traefik-$v"
rm -rf "$work"; mkdir -p "$work/w"
cp -r "$here/traefik/ext" "$work/ext"
cp "$here/traefik/go.mod" "$here/traefik/go.sum" "$work/w/"
lego="$(grep -m1 'github.com/go-acme/lego/v5 ' "$(cd "$work/w" && go mod download -json github.com/traefik/traefik/v3@"$v" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')" | awk '{print $2}')"
bash "$here/strip-lego-providers.sh" "$lego" "$work/lego-v5"
mkdir -p "$out/bin"
tmp="$(mktemp "$out/bin/.traefik.XXXXXX")"
(cd "$work/w" && go build -mod=readonly -trimpath -o "$tmp" \
   -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$v" github.com/traefik/traefik/v3/cmd/traefik)
mv -f "$tmp" "$out/bin/traefik"
rm -rf "$work"
echo "$key" > "$out/.complete"
echo "traefik $v: built in $(( $(date +%s) - start ))s into $out/bin"
