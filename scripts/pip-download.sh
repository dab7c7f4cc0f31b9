# Sourced by fetch-pythia-headers.sh and fetch-hepmc3.sh.
# pip_download DIR PIP-ARGS...: `pip download -q --no-deps PIP-ARGS -d DIR` with the first pip
# that works: $PYTHON's, this checkout's .venv, or python3 on PATH (inside pip's isolated build
# environment the building Python may have no pip). The user's index, mirror and proxy
# settings apply. Returns 1 when no pip could download.
pip_download() {
  local dir=$1; shift
  local py
  for py in "${PYTHON:-}" "$ROOT/.venv/bin/python" python3; do
    [ -n "$py" ] || continue
    if "$py" -m pip --version >/dev/null 2>&1; then
      "$py" -m pip download -q --no-deps "$@" -d "$dir" >&2 && return 0
    fi
  done
  return 1
}
