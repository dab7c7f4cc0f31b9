#!/usr/bin/env python3
"""Make Herwig 7.3's GenericWidthGenerator tolerate decay modes it cannot find.

Why: the hep-mirrors snapshot lacks the 7.3 src/defaults/widths.in, so the build uses
the May-2022 one. Some of its width generators list decay-mode tags that the 7.3 decay
tables no longer have; GenericWidthGenerator::doinit then stores a null DecayMode
(it logs "Failed to find DecayMode") and width()/rate() dereference it (segfault after
~15 LEP events). The shared recipe detaches those 17 generators (fixed widths for
psi(2S), f_0, a_0, eta_c, chi_c, ...). This edit keeps them attached and skips only
the missing modes: they count neither in the open nor in the total running width,
and rate() never offers them. Applied to the local build only; see docs/herwig.md.

usage: patch_width_generator.py HERWIG_SOURCE_DIR   (idempotent; fails loudly if the
source does not look as expected)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

MARK = "/* hadml local build: skip missing decay modes */"

# (pattern, replacement, expected count); each anchors on one statement of the file.
EDITS: list[tuple[str, str, int]] = [
    # width(m, pd): skip a missing mode in the total (first loop) ...
    (r"if\(modeOn_\[ix\]\) \{(\s*)Energy partial",
     r"if(modeOn_[ix] && decayModes_[ix]) { " + MARK + r"\1Energy partial", 1),
    # ... and in the open-width sums (both loops)
    (r"if\(decayModes_\[ix\]->on\(\)\)",
     r"if(decayModes_[ix] && decayModes_[ix]->on())", 2),
    # rate(): never put a null mode into the decay map
    (r"(for\(unsigned int ix=0;ix<decayModes_\.size\(\);\+\+ix\) \{)(\s*)dm\.insert\(",
     r"\1\2if(!decayModes_[ix]) continue; " + MARK + r"\2dm.insert(", 1),
]


def patch(source_dir: Path) -> None:
    path = source_dir / "PDT" / "GenericWidthGenerator.cc"
    text = path.read_text()
    if MARK in text:
        print(f"{path}: already patched")
        return
    for pattern, replacement, expected in EDITS:
        text, n = re.subn(pattern, replacement, text)
        if n != expected:
            sys.exit(f"error: {path}: pattern {pattern!r} matched {n} times, expected {expected}")
    path.write_text(text)
    print(f"{path}: patched (null DecayMode checks in width() and rate())")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    patch(Path(sys.argv[1]))
