#!/usr/bin/env bash
# Fetches HepMC3's C++ headers and static library (libHepMC3-static.a, position independent,
# old libstdc++ string ABI like the pythia8mc wheel) from the `hepmc3` wheel on PyPI
# (pip download: the user's index, mirror and proxy settings apply) into third_party/hepmc3
# (gitignored). hadml's C++ event loop writes HepMC3 with HepMC3's own WriterAscii, linked
# statically: nothing of the wheel is needed at run time (docs/architecture.md).
#   scripts/fetch-hepmc3.sh [DEST]     (PYTHON=... picks the Python whose pip is used)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-$ROOT/third_party/hepmc3}"
VERSION=3.3.1
if [ -f "$DEST/include/HepMC3/WriterAscii.h" ] && [ -f "$DEST/lib/libHepMC3-static.a" ] \
   && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$VERSION" ]; then
  echo "$DEST"; exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
WHEEL="${HADML_HEPMC3_WHEEL:-}"
if [ -z "$WHEEL" ]; then
  source "$ROOT/scripts/pip-download.sh"
  pip_download "$WORK" --only-binary :all: "hepmc3==$VERSION" || true
  WHEEL="$(ls "$WORK"/hepmc3-"$VERSION"-*.whl 2>/dev/null | head -n1)"
fi
[ -n "$WHEEL" ] && [ -f "$WHEEL" ] || { echo "could not download the hepmc3 $VERSION wheel with pip (set HADML_HEPMC3_WHEEL to a local copy)" >&2; exit 1; }
python3 - "$WHEEL" "$WORK/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2], [n for n in z.namelist() if "/data/include/HepMC3/" in n
                               or n.endswith("/libHepMC3-static.a")])
PY
DATA="$(dirname "$(find "$WORK/x" -path '*/data/include' -type d | head -n1)")"
[ -f "$DATA/include/HepMC3/WriterAscii.h" ] || { echo "no HepMC3 headers in $WHEEL" >&2; exit 1; }
LIB="$(find "$DATA" -name libHepMC3-static.a | head -n1)"
[ -f "$LIB" ] || { echo "no libHepMC3-static.a in $WHEEL" >&2; exit 1; }
rm -rf "$DEST"
mkdir -p "$DEST/lib"
cp -r "$DATA/include" "$DEST/"
cp "$LIB" "$DEST/lib/"
echo "$VERSION" > "$DEST/VERSION"
echo "$DEST"
