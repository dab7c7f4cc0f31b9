"""Makes ONNX Runtime's shared library visible to ``hadml._core``.

The ``onnxruntime`` wheel ships ``onnxruntime/capi/libonnxruntime.so.1.<minor>.<patch>``
whose SONAME is ``libonnxruntime.so.1`` but no file of that name, so the dynamic linker
cannot resolve ``hadml._core``'s dependency by path. Loading the library once with
RTLD_GLOBAL registers it under its SONAME and the later import of ``_core`` binds to it.
Harmless when ONNX Runtime is a system library or not installed.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
import sys


def preload_onnxruntime() -> str | None:
    """Load the onnxruntime wheel's libonnxruntime.so.1.x; return its path (None if absent)."""
    if not sys.platform.startswith("linux"):
        return None
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    capi = os.path.join(list(spec.submodule_search_locations)[0], "capi")
    libs = sorted(glob.glob(os.path.join(capi, "libonnxruntime.so.1*")))
    if not libs:
        return None
    try:
        ctypes.CDLL(libs[-1], mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return None
    return libs[-1]
