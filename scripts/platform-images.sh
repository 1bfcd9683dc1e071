#!/usr/bin/env bash
# `make platform-images`: builds the platform's images for a Kubernetes install (Pulumi.k8s-example.yaml)
# and pushes them when REGISTRY is set: $REGISTRY/platform:$TAG, $REGISTRY/platform-pub:$TAG (job pods'
# auth sidecar: the Go gateway alone) and $REGISTRY/platform-postgres:$TAG. The Docker target builds
# its own (platform/).
# The CA bundle for pip, apt and Go behind a proxy (a BuildKit secret): what the host trusts, or the setting
# RACETRACK_EXTRA_CA_BUNDLE (a file, or none), as for job builds (api/settings.py, Settings.build_ca).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
TAG="${TAG:-latest}"
REGISTRY="${REGISTRY:-racetrack}"
BASE_IMAGE="${RACETRACK_BASE_IMAGE_PYTHON:-racetrack/base-python:bookworm}"
# pub's gateway is compiled in a Go stage (modules from $GOPROXY, else the Dockerfile's default).
BASE_IMAGE_GOLANG="${RACETRACK_BASE_IMAGE_GOLANG:-racetrack/base-golang:bookworm}"
docker_cli="${RACETRACK_DOCKER_BUILD_CLI:-/usr/bin/docker}"
secret=()
goproxy=()
if [[ -n "${GOPROXY:-}" ]]; then goproxy=(--build-arg "GOPROXY=$GOPROXY"); fi
ca="$(cd "$root" && .venv/bin/python -c 'from api.settings import settings_or_exit; print(settings_or_exit().build_ca().path or "")')"
if [[ -n "$ca" ]]; then secret=(--secret "id=ca_bundle,src=$ca"); fi
build() {  # image dockerfile context [target]
  local target=()
  [[ -n "${4:-}" ]] && target=(--target "$4")
  echo "building $1"
  DOCKER_BUILDKIT=1 "$docker_cli" build -q "${secret[@]}" "${target[@]}" "${goproxy[@]}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "BASE_IMAGE_GOLANG=$BASE_IMAGE_GOLANG" \
    -f "$2" -t "$1" "$3" >/dev/null
}
build "$REGISTRY/platform:$TAG" "$root/platform/images/platform/Dockerfile" "$root"
build "$REGISTRY/platform-pub:$TAG" "$root/platform/images/platform/Dockerfile" "$root" pub
build "$REGISTRY/platform-postgres:$TAG" "$root/platform/images/postgres/Dockerfile" "$root/platform/images/postgres"
if [[ "$REGISTRY" == */* && "${PUSH:-true}" == true ]]; then
  for name in platform platform-pub platform-postgres; do "$docker_cli" push "$REGISTRY/$name:$TAG"; done
fi
