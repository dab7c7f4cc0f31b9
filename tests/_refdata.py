"""Where the LEP reference data live, for the analysis tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def find_refdir() -> Path | None:
    """$HADML_REFDIR, else ../shared/refdata beside the checkout, else $HADML_SHARED/refdata."""
    cands = []
    if os.environ.get("HADML_REFDIR"):
        cands.append(Path(os.environ["HADML_REFDIR"]))
    cands.append(REPO.parent / "shared" / "refdata")
    if os.environ.get("HADML_SHARED"):
        cands.append(Path(os.environ["HADML_SHARED"]) / "refdata")
    for cand in cands:
        if (cand / "ALEPH_1996_S3486095.yoda").is_file():
            return cand
    return None


def require_refdir() -> Path:
    d = find_refdir()
    if d is None:
        pytest.fail("LEP reference data not found: set HADML_REFDIR (e.g. ../shared/refdata)")
    return d
