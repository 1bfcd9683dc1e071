#!/usr/bin/env bash
# `ensure-tool.sh PATH PACKAGE`: makes sure the program at PATH exists, installing Debian's PACKAGE when
# it does not. The tests call it for what only they need (Chromium for the browser tests, tmux for the
# terminal tests), so a fresh machine after `make setup` runs them instead of skipping them.
set -euo pipefail
program="$1"
package="$2"
[[ -x "$program" ]] && exit 0

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
    SUDO="sudo"
fi

# One installer at a time: parallel test sessions may call this together.
log="/tmp/racetrack-ensure-$package.log"
exec 9>"/tmp/racetrack-ensure-$package.lock"
flock 9
[[ -x "$program" ]] && exit 0

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "$package" >"$log" 2>&1; then
    $SUDO apt-get update >>"$log" 2>&1
    $SUDO apt-get install -y --no-install-recommends "$package" >>"$log" 2>&1
fi
test -x "$program" || { echo "$package was not installed, see $log" >&2; exit 1; }
