# Versions of everything `make setup` builds or fetches. Caches are keyed by these values,
# so bumping one rebuilds only that piece.
PULUMI_VERSION="${PULUMI_VERSION:-3.276.0}"
PULUMI_KUBERNETES_VERSION="${PULUMI_KUBERNETES_VERSION:-4.25.0}"
BASE_IMAGE_SUITE="${BASE_IMAGE_SUITE:-bookworm}"
RACETRACK_CACHE_DIR="${RACETRACK_CACHE_DIR:-$HOME/.cache/racetrack}"
export PULUMI_VERSION PULUMI_KUBERNETES_VERSION BASE_IMAGE_SUITE RACETRACK_CACHE_DIR
