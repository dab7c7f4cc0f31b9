"""Fixtures for the tests that run hadml's Herwig adapter inside a real Herwig 7 (see
herwig_lep.py: how the installation is found, and the runs the tests share)."""

from __future__ import annotations

from pathlib import Path

import pytest
from herwig_lep import REPO, HerwigInstall, LepRuns, build_plugin, find_herwig


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "herwig: runs a real Herwig 7 (skipped unless HADML_HERWIG_PREFIX or "
                   "herwig-config on PATH names an installation)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.herwig)


@pytest.fixture(scope="session")
def herwig_install() -> HerwigInstall:
    inst, why = find_herwig()
    if inst is None:
        pytest.skip(why)
    return inst


@pytest.fixture(scope="session")
def plugin_dir(herwig_install: HerwigInstall) -> Path:
    # A build folder of the checkout (build/ is ignored): later sessions rebuild incrementally.
    return build_plugin(herwig_install, REPO / "build" / "herwig-tests")


@pytest.fixture(scope="session")
def lep(herwig_install: HerwigInstall, plugin_dir: Path,
        tmp_path_factory: pytest.TempPathFactory) -> LepRuns:
    runs = LepRuns(herwig_install, plugin_dir, tmp_path_factory.mktemp("lep"))
    runs.read()
    return runs
