# Versions of everything `make setup` builds or fetches. Caches are keyed by these values,
# so bumping one rebuilds only that piece.
PULUMI_VERSION="${PULUMI_VERSION:-3.276.0}"
PULUMI_KUBERNETES_VERSION="${PULUMI_KUBERNETES_VERSION:-4.25.0}"
BASE_IMAGE_SUITE="${BASE_IMAGE_SUITE:-bookworm}"
RACETRACK_CACHE_DIR="${RACETRACK_CACHE_DIR:-$HOME/.cache/racetrack}"
export PULUMI_VERSION PULUMI_KUBERNETES_VERSION BASE_IMAGE_SUITE RACETRACK_CACHE_DIR

# Takes an exclusive lock on one cache entry until the calling (sub)shell exits, so two checkouts or
# processes that build the same entry take turns instead of writing over each other's half-built output.
# The caller checks again, once it holds the lock, whether the other one finished the entry meanwhile.
lock_cache_entry() {  # name
  local file="$RACETRACK_CACHE_DIR/locks/$1.lock" fd
  mkdir -p "$(dirname "$file")"
  exec {fd}>"$file"
  if ! flock -n "$fd"; then
    echo "$1: another process is building it (lock $file); waiting for it" >&2
    flock "$fd"
  fi
}
