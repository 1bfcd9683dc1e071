#!/usr/bin/env bash
# `strip-lego-providers.sh VERSION DEST`: copies lego VERSION from the module cache to DEST without the
# DNS-01 providers whose SDKs the Go module proxy does not serve. Traefik then reports those 13 providers
# as unknown in an ACME DNS challenge; every other provider and the HTTP/TLS challenges are untouched.
set -euo pipefail
version="$1" dest="$2"
unserved=(alidns aliesa azion dnsimple edgedns edgeone huaweicloud oraclecloud regfish sakuracloud tencentcloud ucloud yandexcloud)
src="$(go mod download -json "github.com/go-acme/lego/v5@$version" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
rm -rf "$dest"
cp -r "$src" "$dest"
chmod -R u+w "$dest"
registry="$dest/providers/dns/zz_gen_dns_providers.go"
rm -f "$dest"/providers/dns/*_test.go
pattern="$(IFS='|'; echo "${unserved[*]}")"
# Drops each provider's import line and its `case "...":` line with the `return` below it.
awk -v p="$pattern" '
  $0 ~ "providers/dns/(" p ")\"$" { next }
  skip { skip = 0; if ($0 ~ "return (" p ")\\.") next }
  /^\tcase "/ { line = $0; getline nxt; if (nxt ~ "return (" p ")\\.") next; print line; print nxt; next }
  { print }
' "$registry" > "$registry.new"
mv "$registry.new" "$registry"
left="$(grep -cE "[^a-z0-9]($pattern)\\." "$registry" || true)"
[[ "$left" == 0 ]] || { echo "Error: lego $version still references an unserved provider in $registry" >&2; exit 1; }
