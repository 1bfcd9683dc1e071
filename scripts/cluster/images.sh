#!/usr/bin/env bash
# `images.sh REGISTRY`: builds the cluster's own images with the Docker engine and pushes them to the
# cluster's registry, from which containerd pulls them like any other image. Each is built only when
# the registry does not have it yet; the local Docker tags are removed after the push.
#   pause        the pod sandbox (images/pause.c, static)
#   coredns      cluster DNS
#   local-path-provisioner  the PVC provisioner, and busybox for its helper pods (Debian's static busybox)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
registry="$1"
has() {  # has NAME TAG
  curl -sf -o /dev/null -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
    "http://$registry/v2/cluster/$1/manifests/$2"
}
push() {  # push NAME TAG CONTEXT_DIR ENTRYPOINT_JSON
  local ref="$registry/cluster/$1:$2"
  printf 'FROM scratch\nCOPY . /\nENTRYPOINT %s\n' "$4" > "$3/Dockerfile"
  local out
  out="$(docker build -q -t "$ref" "$3" 2>&1 && docker push -q "$ref" 2>&1)" ||
    { printf '%s\n' "$out" >&2; echo "Error: building or pushing $ref failed" >&2; return 1; }
  docker rmi "$ref" >/dev/null
  echo "image $ref: pushed"
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if ! has pause 3.10; then
  mkdir "$tmp/pause"
  gcc -Os -static -o "$tmp/pause/pause" "$here/images/pause.c"
  strip "$tmp/pause/pause"
  push pause 3.10 "$tmp/pause" '["/pause"]'
fi
binary_image() {  # binary_image NAME VERSION
  has "$1" "$2" && return 0
  [[ -x "$RACETRACK_CACHE_DIR/$1-$2/bin/$1" ]] || { echo "image $1: not built, left out"; return 0; }
  mkdir "$tmp/$1"
  cp "$RACETRACK_CACHE_DIR/$1-$2/bin/$1" "$tmp/$1/$1"
  push "$1" "$2" "$tmp/$1" "[\"/$1\"]"
}
binary_image coredns "$COREDNS_VERSION"
binary_image local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION"
busybox_version="$(busybox_tag)"
if ! has busybox "$busybox_version"; then
  mkdir -p "$tmp/busybox/bin" "$tmp/busybox/tmp"
  cp /bin/busybox "$tmp/busybox/bin/busybox"
  for applet in $("$tmp/busybox/bin/busybox" --list); do
    [[ -e "$tmp/busybox/bin/$applet" ]] || ln -s busybox "$tmp/busybox/bin/$applet"
  done
  push busybox "$busybox_version" "$tmp/busybox" '["/bin/sh"]'
fi
