"""hadml/_malloc.py: the generate command pins glibc's mmap threshold (flat memory over
long runs). Checked in a fresh process through glibc's own counter of mmapped blocks: after
a large block is freed, the default (dynamic) threshold puts the next large block on the heap,
the pinned one maps it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import hadml

PROBE = """
import ctypes, sys
from hadml._malloc import pin_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "pin":
    assert pin_mmap_threshold()
# Freeing a mapped block raises glibc's dynamic threshold to its size (here 8 MiB) ...
libc.free(libc.malloc(8 << 20))
before = libc.mallinfo2().hblks
# ... so a 2 MiB block then grows the heap, unless the threshold is pinned (the heap's free
# top is far smaller than 2 MiB: glibc trims it above 128 KiB).
block = libc.malloc(2 << 20)
print(libc.mallinfo2().hblks - before)
libc.free(block)
"""


def _mmapped_blocks(mode: str) -> int:
    root = Path(hadml.__file__).parents[1]
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd="/", check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(root)})
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_pinned_threshold_keeps_large_blocks_mapped_after_a_large_free() -> None:
    assert _mmapped_blocks("default") == 0
    assert _mmapped_blocks("pin") == 1
