"""The hadron table comes from Pythia's particle data (no hand-typed masses)."""

from __future__ import annotations

import numpy as np
import pytest
import pythia8mc

from hadml.hadrons import hadron_table


@pytest.fixture(scope="module")
def pythia() -> pythia8mc.Pythia:
    return pythia8mc.Pythia("", False)


@pytest.fixture(scope="module")
def table(pythia: pythia8mc.Pythia) -> dict:
    return hadron_table(pythia)


def test_types_and_shapes(table: dict) -> None:
    n = len(table["id"])
    assert n > 50
    assert table["id"].dtype == np.int32 and (table["id"] > 0).all()
    assert table["mass"].dtype == np.float64 and table["width"].dtype == np.float64
    assert table["spin_multiplicity"].dtype == np.int32 and table["charge3"].dtype == np.int32
    assert len(table["name"]) == n and len(set(table["id"].tolist())) == n


@pytest.mark.parametrize("pid", [211, 111, 321, 311, 213, 113, 2224, 2214, 3122, 2212, 2112])
def test_common_hadrons_with_pythia_masses(table: dict, pythia: pythia8mc.Pythia, pid: int) -> None:
    ids = table["id"].tolist()
    assert pid in ids
    i = ids.index(pid)
    pd = pythia.particleData
    assert table["mass"][i] == pd.m0(pid)
    assert table["width"][i] == pd.mWidth(pid)
    assert table["spin_multiplicity"][i] == pd.spinType(pid)
    assert table["charge3"][i] == pd.chargeType(pid)
    assert table["name"][i] == pd.name(pid)


def test_no_partons_exotics_or_k0_mixtures(table: dict) -> None:
    ids = set(table["id"].tolist())
    assert not ids & {1, 2, 3, 4, 5, 6, 21, 22, 130, 310}
    assert all(i % 10 != 0 for i in ids)
    digits = [((i // 1000) % 10, (i // 100) % 10, (i // 10) % 10) for i in ids]
    assert max(max(d) for d in digits) <= 5  # no top hadrons


def test_every_pythia_hadron_it_can_decay(table: dict, pythia: pythia8mc.Pythia) -> None:
    """The table is Pythia's particle data (Herwig's HadronSelector reads all of its
    particle data; the selection rules sit in the C++ selector): radial and orbital
    excitations and the 9xxxxxx scalars are in, as are excited baryons (the selector
    drops those), and Pythia can decay each unstable entry."""
    ids = set(table["id"].tolist())
    assert {100211, 100113, 30113, 9010221, 9000111, 9000221, 102134, 10221} <= ids
    pd = pythia.particleData
    for i, pid in enumerate(table["id"].tolist()):
        assert pd.canDecay(pid) or table["width"][i] == 0.0, pid
        assert table["mass_min"][i] == pd.mMin(pid) and table["mass_max"][i] == pd.mMax(pid)
        if table["mass_max"][i] > 0:  # a range (Sigma_b has a width but none: on shell)
            assert table["mass_min"][i] <= table["mass"][i] <= table["mass_max"][i], pid


def test_quiet_default_pythia() -> None:
    t = hadron_table()
    assert 211 in t["id"].tolist()
