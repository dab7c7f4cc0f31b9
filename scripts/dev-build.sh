#!/usr/bin/env bash
# Development build: compiles hadml._core into hadml/ of this checkout so that
# `PYTHONPATH=. pytest` uses it without reinstalling. Build dir: build/dev (per checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
cmake -S . -B build/dev -G Ninja -DHADML_DEV_INPLACE=ON -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} \
  -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -c 'import pybind11; print(pybind11.get_cmake_dir())')" >/dev/null
cmake --build build/dev -j "${JOBS:-2}"
