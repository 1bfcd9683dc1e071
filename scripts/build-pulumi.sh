#!/usr/bin/env bash
# Builds the Pulumi CLI and the Python dynamic-provider launcher from the Go module proxy,
# because Pulumi's download servers are out of reach. Output: $RACETRACK_CACHE_DIR/pulumi/v$V/bin.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
V="$PULUMI_VERSION"
OUT="$RACETRACK_CACHE_DIR/pulumi/v$V"
cached() { [[ -x "$OUT/bin/pulumi" && -f "$OUT/.complete" ]]; }
if cached; then echo "pulumi v$V: cached in $OUT"; exit 0; fi
lock_cache_entry "pulumi-v$V"
if cached; then echo "pulumi v$V: built meanwhile by another process, in $OUT"; exit 0; fi
echo "pulumi v$V: building from the Go module proxy (first time only, about 10 minutes on 2 cores)"
export CGO_ENABLED=0 GOTOOLCHAIN=auto GOFLAGS=-buildvcs=false
work="$RACETRACK_CACHE_DIR/src/pulumi-v$V"
rm -rf "$work" "$OUT"; mkdir -p "$work" "$OUT/bin"
cd "$work"
go mod init local/pulumi-offline >/dev/null 2>&1
go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$V"
go get "github.com/pulumi/pulumi/sdk/v3@v$V"
# The Python language host (pulumi-language-python) is a separate, untagged module that this
# machine's Go module proxy does not serve; inline Automation API programs do not need it, and
# setup.sh installs our own (stacks/language_host.py) for local programs.
go get "github.com/pulumi/pulumi/pkg/v3@v$V" "github.com/pulumi/pulumi/sdk/v3@v$V"
go mod edit -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
go mod tidy
ld="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$V"
echo "pulumi v$V: compiling the CLI"
go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ld" -o "$OUT/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
sdk="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
install -m755 "$sdk/python/cmd/pulumi-language-python-exec" "$sdk/python/dist/pulumi-resource-pulumi-python" "$OUT/bin/"
"$OUT/bin/pulumi" version
touch "$OUT/.complete"
echo "pulumi v$V: built into $OUT/bin ($(du -sh "$OUT/bin" | cut -f1))"
