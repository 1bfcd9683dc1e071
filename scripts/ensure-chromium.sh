#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed at /usr/bin/chromium for the browser tests.
# Playwright drives this binary (executable_path); it never downloads a browser of its own.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [[ -x "$CHROMIUM" ]]; then
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
    SUDO="sudo"
fi

# One installer at a time: parallel test sessions may call this together.
exec 9>/tmp/racetrack-ensure-chromium.lock
flock 9
if [[ -x "$CHROMIUM" ]]; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends chromium >/tmp/racetrack-ensure-chromium.log 2>&1; then
    $SUDO apt-get update >>/tmp/racetrack-ensure-chromium.log 2>&1
    $SUDO apt-get install -y --no-install-recommends chromium >>/tmp/racetrack-ensure-chromium.log 2>&1
fi
test -x "$CHROMIUM" || { echo "chromium was not installed, see /tmp/racetrack-ensure-chromium.log" >&2; exit 1; }
