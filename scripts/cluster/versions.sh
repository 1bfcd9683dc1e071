# Versions of what `make cluster` builds. Each is a cache key: $RACETRACK_CACHE_DIR/<name>-<version>/
# holds the build, so bumping one rebuilds only that piece.
. "$(dirname "${BASH_SOURCE[0]}")/../versions.sh"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.34.4}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.12.1}"
TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.7.13}"
KUBE_ROUTER_VERSION="${KUBE_ROUTER_VERSION:-v2.1.0}"
LOCAL_PATH_PROVISIONER_VERSION="${LOCAL_PATH_PROVISIONER_VERSION:-v0.0.30}"
export KUBERNETES_VERSION COREDNS_VERSION TRAEFIK_VERSION KUBE_ROUTER_VERSION LOCAL_PATH_PROVISIONER_VERSION
# The helper image of the PVC provisioner is Debian's static busybox, tagged with its package version.
busybox_tag() { dpkg-query -W -f='${Version}' busybox-static | sed 's/^[0-9]*://; s/[^A-Za-z0-9_.-]/_/g'; }
