#!/usr/bin/env bash
# Set up hadml on a fresh Debian machine: build tools and nlohmann/json (apt), a virtual environment in
# .venv, and the package built from this checkout.
#   scripts/bootstrap.sh          generation only (hadml with ONNX Runtime, no torch)
#   scripts/bootstrap.sh --test   also torch/Lightning ([train]), the test tools ([test]) and
#                                 dask.distributed ([dask], so that the dask tests run)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
inc=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$inc/Python.h" ] || missing+=(python3-dev)
# nlohmann/json (header-only) parses the ONNX model metadata in the C++ shim.
[ -f /usr/include/nlohmann/json.hpp ] || missing+=(nlohmann-json3-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing system packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; else
    echo "bootstrap: please install ${missing[*]} (apt-get install ${missing[*]})" >&2; exit 1
  fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$mode" = "--test" ]; then
  # The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q ".[train,test,dask]"
else
  .venv/bin/python -m pip install -q .
fi
echo "bootstrap: hadml installed in .venv ($(.venv/bin/python -c 'import hadml; print(hadml.__version__)'))"
