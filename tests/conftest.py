from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """../shared beside the checkout (CI and developers), or HADML_SHARED."""
    env = os.environ.get("HADML_SHARED")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared", REPO / "shared"]:
        if (cand / "refdata").is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def shared() -> Path:
    d = shared_dir()
    if d is None:
        pytest.fail("../shared (refdata, herwig-dumps) not found beside the checkout; "
                    "set HADML_SHARED")
    return d


@pytest.fixture(scope="session")
def refdir() -> Path:
    """The LEP reference data shipped with the package (no ../shared needed)."""
    from hadml.analysis.compare import SHIPPED_REFDIR

    return SHIPPED_REFDIR


@pytest.fixture(scope="session")
def small_run():
    """200 classic events (seed 7) shared by several tests."""
    import hadml

    return hadml.generate(200, seed=7, collect_clusters=True)


@pytest.fixture(scope="module")
def table() -> dict:
    """Herwig's hadron table as hadml builds it (hadml.hadrons.hadron_table)."""
    from hadml.hadrons import hadron_table

    return hadron_table()


@pytest.fixture(scope="module")
def spectrum(table: dict):
    """The C++ HadronSpectrum with the default cluster parameters."""
    from hadml import _core

    return _core.HadronSpectrum(_core.default_params(), table)
