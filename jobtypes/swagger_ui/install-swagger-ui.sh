#!/bin/sh
# Installs the Swagger UI files a job's /docs page needs into a folder:
#   install-swagger-ui.sh <requirements file> <target folder>
# The package is unpacked into a scratch folder with pip (no dependencies: only its vendored
# files are used, nothing is imported), and only the served files, the version and the licence
# are kept. Runs inside the image builds, with PIP_CERT set by the caller when a CA bundle is given.
set -eu
requirements="$1"
target="$2"
scratch="$(mktemp -d)"
python3 -m pip install -q --no-deps --only-binary=:all: --require-hashes --target "$scratch" -r "$requirements"
set -- "$scratch"/swagger_ui_bundle/vendor/swagger-ui-*
if [ "$#" -ne 1 ] || [ ! -f "$1/swagger-ui-bundle.js" ]; then
    echo "error: swagger-ui-bundle has no single vendor/swagger-ui-*/swagger-ui-bundle.js" >&2
    exit 1
fi
mkdir -p "$target"
for name in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png favicon-16x16.png; do
    cp "$1/$name" "$target/$name"
done
basename "$1" | sed 's/^swagger-ui-//' > "$target/VERSION"
cp "$scratch"/swagger_ui_bundle-*.dist-info/LICENSE "$target/LICENSE"
rm -rf "$scratch"
