#!/usr/bin/env bash
# Makes the base images that job images start from. No container registry is reachable from our
# machines, so each image is a Debian root file system made by debootstrap and imported into Docker.
# The image names are settings (RACETRACK_BASE_IMAGE_PYTHON, RACETRACK_BASE_IMAGE_GOLANG,
# RACETRACK_BASE_IMAGE_DEBIAN: plain bookworm, the runtime of golang jobs with system_dependencies).
#
# Debian trixie with Python 3.13 (RACETRACK_BASE_IMAGE_PYTHON_TRIXIE) is not made here by default: it
# takes 3 to 4 minutes and about 180 MB, and the platform builds it itself the first time a job asks
# for it (jobtypes/baseimages.py). To build it ahead: bash scripts/build-base-images.sh trixie
set -euo pipefail
shopt -s inherit_errexit  # a failing debootstrap inside $(...) must stop the script
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
PY_IMAGE="${RACETRACK_BASE_IMAGE_PYTHON:-racetrack/base-python:$BASE_IMAGE_SUITE}"
GO_IMAGE="${RACETRACK_BASE_IMAGE_GOLANG:-racetrack/base-golang:$BASE_IMAGE_SUITE}"
DEBIAN_IMAGE="${RACETRACK_BASE_IMAGE_DEBIAN:-racetrack/base-minimal:$BASE_IMAGE_SUITE}"
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"

mirror() {  # the Debian mirror apt already uses
  local m
  # Only a Debian archive will do (other sources, e.g. nodesource, may come first in the list).
  m="$(grep -rhoE '^URIs: *\S+' /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | grep -v security | grep -E '/debian/?$' | head -1 || true)"
  [[ -z "$m" ]] && m="$(grep -hoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)"
  echo "${m:-http://deb.debian.org/debian}"
}

rootfs_tarball() {  # name packages -> path of a cached tar of the root file system
  local name="$1" packages="$2"
  local tar="$RACETRACK_CACHE_DIR/base-images/$name-$BASE_IMAGE_SUITE.tar"
  # A tar under 1 MB is a leftover of a failed debootstrap (an empty root), not a root file system.
  lock_cache_entry "base-rootfs-$name-$BASE_IMAGE_SUITE"  # held until this $(...) subshell ends
  if [[ ! -s "$tar" || $(stat -c %s "$tar") -lt 1000000 ]]; then
    command -v debootstrap >/dev/null || { $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debootstrap >/dev/null; }
    local root; root="$(mktemp -d)"
    echo "base image $name: debootstrap $BASE_IMAGE_SUITE (first time only, about a minute)" >&2
    $SUDO debootstrap --variant=minbase --include="$packages" "$BASE_IMAGE_SUITE" "$root" "$(mirror)" >/dev/null
    $SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$(dirname "$tar")"
    [[ -x "$root/bin/sh" ]] || { echo "debootstrap produced no root file system for $name" >&2; exit 1; }
    $SUDO tar -C "$root" -cf "$tar.partial" . && mv "$tar.partial" "$tar"
    $SUDO rm -rf "$root"
  fi
  echo "$tar"
}

image_ok() {  # image -> true when it exists and holds more than an empty root (>1 MB)
  local size; size="$(docker image inspect -f '{{.Size}}' "$1" 2>/dev/null || echo 0)"
  [[ "$size" -gt 1000000 ]]
}

ensure_image() {  # image name packages
  local image="$1" name="$2" packages="$3"
  if image_ok "$image"; then echo "base image $image: present"; return; fi
  local tar; tar="$(rootfs_tarball "$name" "$packages")"
  docker import --change 'ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' "$tar" "$image" >/dev/null
  echo "base image $image: imported"
}

ensure_image "$PY_IMAGE" python "python3,python3-venv,python3-pip,ca-certificates"
ensure_image "$DEBIAN_IMAGE" minimal "ca-certificates,git"

# The Go job type compiles inside the image; it gets the host's Go toolchain on top of a minimal
# Debian, because Debian's own Go is too old for current modules.
if image_ok "$GO_IMAGE" && docker run --rm "$GO_IMAGE" /bin/sh -c true >/dev/null 2>&1; then
  echo "base image $GO_IMAGE: present"
else
  base="$DEBIAN_IMAGE"
  goroot="$(go env GOROOT)"
  ctx="$(mktemp -d)"
  cp -a "$goroot" "$ctx/go"
  rm -rf "$ctx/go/pkg/tool/"*/{vet,cover,fix,doc} "$ctx/go/test" "$ctx/go/api" "$ctx/go/doc" 2>/dev/null || true
  printf 'FROM %s\nCOPY go /usr/local/go\nENV GOTOOLCHAIN=local CGO_ENABLED=0\n' "$base" > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$GO_IMAGE" "$ctx" >/dev/null 2>&1 || docker build -q -t "$GO_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "base image $GO_IMAGE: built with $(go version | awk '{print $3}')"
fi

# Base images the platform otherwise builds on demand, when named: e.g. `trixie`.
if [[ $# -gt 0 ]]; then
  "$(dirname "$here")/.venv/bin/python" -c 'import sys; from api.settings import get_settings; from jobtypes.baseimages import main; sys.exit(main(sys.argv[1:], get_settings().build_settings()))' "$@"
fi
