#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries exist (the test suite starts a throwaway server from them) and
# prints the folder holding `initdb` and `postgres`. Installs Debian's `postgresql` package when absent.
set -euo pipefail

find_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/postgres" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

if find_bin; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "PostgreSQL server binaries are missing; run as root: apt-get install -y postgresql" >&2
    exit 1
fi
echo "installing PostgreSQL server binaries (apt-get install postgresql)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends postgresql >&2
find_bin
