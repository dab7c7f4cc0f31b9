#!/usr/bin/env bash
# Fetches the ONNX Runtime C/C++ API headers from Debian 13's libonnxruntime-dev into
# third_party/onnxruntime/include (gitignored). Only the headers: the runtime library comes
# from the `onnxruntime` Python wheel. The C API is versioned (OrtApiBase::GetApi(N)), so
# API-21 headers work with any newer runtime.
# Uses a private apt state (lists, sources, cache) so the system's apt config is untouched.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-$ROOT/third_party/onnxruntime}"
if [ -f "$DEST/include/onnxruntime_cxx_api.h" ]; then echo "$DEST"; exit 0; fi
command -v apt-get >/dev/null || { echo "apt-get not found: set ONNXRUNTIME_ROOT to an ONNX Runtime with include/ and lib/" >&2; exit 1; }

# Reuse the system's Debian mirror URI.
URI=""
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  u=$(grep -Eo 'https?://[^ ]*/debian/?( |$)' "$f" 2>/dev/null | head -n1 | tr -d ' ') || true
  [ -n "$u" ] && { URI="$u"; break; }
done
URI="${URI:-http://deb.debian.org/debian}"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/etc/sources.list.d" "$WORK/deb"
echo "deb [trusted=yes] $URI trixie main" > "$WORK/etc/sources.list"
APT_OPTS=(-o Dir::State::Lists="$WORK/lists" -o Dir::Etc::sourcelist="$WORK/etc/sources.list"
          -o Dir::Etc::sourceparts="$WORK/etc/sources.list.d" -o Dir::Cache="$WORK/cache"
          -o Dir::State::status=/dev/null -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
apt-get "${APT_OPTS[@]}" -qq update >&2
(cd "$WORK/deb" && apt-get "${APT_OPTS[@]}" -qq download libonnxruntime-dev >&2)
dpkg-deb -x "$WORK"/deb/libonnxruntime-dev_*.deb "$WORK/x"
HDR=$(dirname "$(find "$WORK/x" -name onnxruntime_cxx_api.h | head -n1)")
[ -f "$HDR/onnxruntime_cxx_api.h" ] || { echo "onnxruntime_cxx_api.h not in libonnxruntime-dev" >&2; exit 1; }
mkdir -p "$DEST/include"
cp -r "$HDR"/. "$DEST/include/"
echo "$DEST"
