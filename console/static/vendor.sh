#!/usr/bin/env bash
# Refreshes the vendored front-end files from the npm registry at the pinned
# versions below. Node/npm are needed only to run this script, never to build
# or run Canopy: the files it writes are committed and embedded with go:embed.
#
#   console/static/vendor.sh            # from the repository root or anywhere
#
# To upgrade, change a version here, run the script, run the browser tests
# (go test ./cmd/canopy -run Browser), and commit the script and the files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

PICO=@picocss/pico@2.1.1
HTMX=htmx.org@2.0.11
AXE=axe-core@4.14.1

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# fetch PACKAGE@VERSION FILE-IN-PACKAGE DESTINATION
fetch() {
  (cd "$tmp" && rm -rf package && npm pack --silent "$1" >/dev/null && tar xzf ./*.tgz && rm -f ./*.tgz)
  cp "$tmp/package/$2" "$3"
  echo "$1 $2 -> ${3#"$root"/} ($(sha256sum "$3" | cut -c1-16))"
}

fetch "$PICO" css/pico.min.css "$here/pico.min.css"
fetch "$PICO" LICENSE.md "$here/pico.LICENSE.md"
fetch "$HTMX" dist/htmx.min.js "$here/htmx.min.js"
fetch "$HTMX" LICENSE "$here/htmx.LICENSE"
# axe-core checks accessibility in the browser tests only; it is not served.
fetch "$AXE" axe.min.js "$root/internal/browsertest/axe.min.js"
fetch "$AXE" LICENSE "$root/internal/browsertest/axe.LICENSE"
