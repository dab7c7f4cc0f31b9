"""Allocator setting for long generator runs (docs/performance.md, "Memory over 10^6 events").

glibc raises its mmap threshold each time a large block is freed (the dynamic threshold, up
to 32 MiB), so the per-block arrays of the event loop and of the cluster table then come
from the heap and fragment it: over 10^6 events with ``--clusters`` RSS crept up by about
10 MiB. Pinning the threshold (glibc's M_MMAP_THRESHOLD, the same as the environment
variable MALLOC_MMAP_THRESHOLD_) keeps such arrays in their own mappings, returned to the
system when freed; measured flat to within the Parquet footer's growth. Only the
``hadml generate`` process calls this: a library user's allocator is left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc malloc.h
MMAP_THRESHOLD_BYTES = 64 * 1024


def pin_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Pin glibc's mmap threshold; False (nothing changed) on other C libraries."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
