#!/usr/bin/env bash
# Puts the `racetrack` CLI of this checkout's .venv on the user's PATH: a link in ~/.local/bin (the
# directory Debian's and Ubuntu's ~/.profile put on PATH when it exists), so the README's `racetrack ...`
# lines work in a new terminal. A `racetrack` there that is not a link (e.g. a pip --user install) is kept.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${RACETRACK_CLI_BIN_DIR:-$HOME/.local/bin}"
target="$root/.venv/bin/racetrack"
[[ -x "$target" ]] || { echo "no $target: the project is not installed in .venv (run make setup)" >&2; exit 1; }
mkdir -p "$bin"
if [[ -e "$bin/racetrack" && ! -L "$bin/racetrack" ]]; then
  echo "racetrack CLI: $bin/racetrack exists and is not a link; kept (this checkout's CLI is $target)"
else
  ln -sfn "$target" "$bin/racetrack"
  echo "racetrack CLI: $bin/racetrack -> $target"
fi
case ":$PATH:" in
  *":$bin:"*) ;;
  *) echo "racetrack CLI: $bin is not on this shell's PATH; add it (e.g. in ~/.bashrc):"
     echo "    export PATH=\"$bin:\$PATH\"" ;;
esac
