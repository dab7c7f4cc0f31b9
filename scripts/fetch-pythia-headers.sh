#!/usr/bin/env bash
# Fetches Pythia 8's C++ headers of the pythia8mc version hadml pins from that version's
# source distribution on PyPI (pip download: the user's index, mirror and proxy settings
# apply) into third_party/pythia8/include (gitignored), checking the sdist's SHA-256.
# Only the headers: hadml's C++ event loop links the Pythia 8 library inside the pythia8mc
# wheel's extension module (docs/architecture.md, "Which Pythia the C++ event loop links").
#   scripts/fetch-pythia-headers.sh [DEST]     (PYTHON=... picks the Python whose pip is used)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-$ROOT/third_party/pythia8}"
VERSION=8.317.2
SHA256=e601ed013d22d4ef689c1d94fcdc0ff10f4455a00f0935f682d85b66ef8ffa58
if [ -f "$DEST/include/Pythia8/Pythia.h" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$VERSION+plugins" ]; then
  echo "$DEST"; exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SDIST="${HADML_PYTHIA_SDIST:-}"
if [ -z "$SDIST" ]; then
  source "$ROOT/scripts/pip-download.sh"
  pip_download "$WORK" --no-binary :all: "pythia8mc==$VERSION" || true
  SDIST="$WORK/pythia8mc-$VERSION.tar.gz"
fi
[ -f "$SDIST" ] || { echo "could not download the pythia8mc $VERSION sdist with pip (set HADML_PYTHIA_SDIST to a local copy)" >&2; exit 1; }
echo "$SHA256  $SDIST" | sha256sum -c --quiet - >&2 || { echo "$SDIST: SHA-256 mismatch" >&2; exit 1; }
tar -xzf "$SDIST" -C "$WORK" --wildcards '*/plugins/python/include/*'
HDR="$(dirname "$(find "$WORK" -path '*/plugins/python/include/Pythia8/Pythia.h' | head -n1)")"
[ -f "$HDR/Pythia.h" ] || { echo "Pythia8/Pythia.h not in the sdist" >&2; exit 1; }
rm -rf "$DEST"
mkdir -p "$DEST/include"
cp -r "$HDR" "$(dirname "$HDR")/Pythia8Plugins" "$DEST/include/"
echo "$VERSION+plugins" > "$DEST/VERSION"
echo "$DEST"
