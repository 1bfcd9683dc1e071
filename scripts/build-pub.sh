#!/usr/bin/env bash
# Builds pub's gateway (api/pub/gateway, Go) into $RACETRACK_CACHE_DIR/pub/<key>/racetrack-pub and links
# it to .venv/bin/racetrack-pub, where `python -m api.pub` looks first. The key hashes the gateway's
# sources, go.mod, go.sum and `go version`, so an unchanged gateway is not rebuilt and a changed one
# never runs stale. `--print` only builds and prints the binary's path (the tests use it, so they
# exercise the sources of their own checkout whatever .venv holds).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
. "$here/versions.sh"
src="$root/api/pub/gateway"
print_only=false
[[ "${1:-}" == "--print" ]] && print_only=true
say() { $print_only && echo "$*" >&2 || echo "$*"; }

command -v go >/dev/null || { echo "Error: building pub's gateway needs Go (https://go.dev/dl/)" >&2; exit 1; }
# Test files do not change the binary: leaving them out keeps the key when only tests change.
key="$(
  cd "$src"
  { ls -1 *.go | grep -v '_test\.go$' | sort | xargs cat; cat go.mod go.sum; go version; } | sha256sum | cut -c1-16
)"
out="$RACETRACK_CACHE_DIR/pub/$key"
binary="$out/racetrack-pub"
if [[ -x "$binary" ]]; then
  say "pub gateway: cached in $out"
else
  say "pub gateway: building $key"
  mkdir -p "$out"
  tmp="$(mktemp "$out/.racetrack-pub.XXXXXX")"
  # Static (no cgo): the same binary runs on the host and in the slim platform image.
  (cd "$src" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--mod=readonly} -buildvcs=false" \
     go build -trimpath -ldflags="-s -w" -o "$tmp" .) >&2
  mv -f "$tmp" "$binary"  # atomic: a concurrent build or a reader never sees half a binary
fi
if $print_only; then
  echo "$binary"
  exit 0
fi
venv_bin="${RACETRACK_VENV:-$root/.venv}/bin"
mkdir -p "$venv_bin"
ln -sfn "$binary" "$venv_bin/racetrack-pub"
echo "pub gateway: $venv_bin/racetrack-pub -> $binary"
