"""Where the LEP reference data live, for the analysis tests: the files shipped with the
package (hadml/analysis/refdata), so that the tests run on a fresh clone."""

from __future__ import annotations

import os
from pathlib import Path

from hadml.analysis.compare import SHIPPED_REFDIR

REPO = Path(__file__).resolve().parents[1]


def shared_refdata() -> Path | None:
    """The project's ../shared/refdata (or $HADML_SHARED/refdata), if present: the master
    copy that the shipped files must equal."""
    cands = [REPO.parent / "shared" / "refdata"]
    if os.environ.get("HADML_SHARED"):
        cands.insert(0, Path(os.environ["HADML_SHARED"]) / "refdata")
    return next((c for c in cands if c.is_dir()), None)


def require_refdir() -> Path:
    """The shipped reference data (always present in a checkout or an installed wheel)."""
    return SHIPPED_REFDIR
