#!/usr/bin/env bash
# Makes sure a Docker engine answers: uses the running one, else installs Debian's and starts it.
set -euo pipefail
if docker info >/dev/null 2>&1; then echo "docker: engine running"; exit 0; fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker: installing Debian's docker.io"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io >/dev/null
fi
log="${RACETRACK_CACHE_DIR:-$HOME/.cache/racetrack}/dockerd.log"
mkdir -p "$(dirname "$log")"
echo "docker: starting dockerd (log: $log)"
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
# Every job version gets its own network: Docker's default pools hold about 30, this one 4,096 (/24 each).
nohup $SUDO dockerd --storage-driver=overlay2 --default-address-pool base=10.128.0.0/12,size=24 >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then echo "docker: engine running"; exit 0; fi
  sleep 1
done
echo "docker: dockerd did not answer within 60 s; see $log" >&2
tail -20 "$log" >&2
exit 1
