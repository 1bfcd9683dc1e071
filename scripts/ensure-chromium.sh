#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed at /usr/bin/chromium for the browser tests.
# Playwright drives this binary (executable_path); it never downloads a browser of its own.
exec bash "$(dirname "$0")/ensure-tool.sh" /usr/bin/chromium chromium
