"""Hadron data for the cluster model, read from Pythia 8's particle data.

The table handed to the C++ cluster stage holds every hadron Pythia knows and can decay
(or that is stable), with its mass, width, Breit-Wigner mass range, spin and charge, all
from Pythia; nothing is typed in. Only codes that cannot be a cluster's product are left
out: K0_L/K0_S (130, 310: the selector makes K0/K0bar, Pythia mixes them when decaying),
codes without quark or spin digits, and top or exotic (digits above 5) hadrons.

Which of these take part in species selection is the selector's choice
(``hadml::HadronSpectrum``, cluster parameter ``HadronTable``). Herwig 7.3's
HadronSelector builds its table from every hadron in its particle data, radial and
orbital excitations included (a0(980), f0(980), pi(1300), rho(1450), ...), except those
it forbids (src/defaults/Decays.in: sigma = f0(500), kappa, and every excited baryon);
``HadronTable = 1`` (the default) applies these rules to Pythia's hadrons.
``HadronTable = 0`` keeps hadml's earlier table: the lowest meson multiplets
(|id| < 30000) and ground-state baryons.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_K0_MIXTURES = (130, 310)


def _is_candidate(pid: int) -> bool:
    """A hadron code a cluster could produce: quark digits 1..5 and a spin digit."""
    if pid in _K0_MIXTURES:
        return False
    digits = pid % 10000
    nq1, nq2, nq3, nj = digits // 1000, (digits // 100) % 10, (digits // 10) % 10, digits % 10
    if nj == 0 or nq3 == 0 or nq2 == 0:
        return False
    return max(nq1, nq2, nq3) <= 5


def _pythia_can_handle(pd: Any, pid: int) -> bool:
    """Pythia decays it (it has decay channels) or keeps it (stable, no width)."""
    return bool(pd.canDecay(pid)) or pd.mWidth(pid) == 0.0


def _quiet_pythia() -> Any:
    import pythia8mc

    return pythia8mc.Pythia("", False)


def hadron_table(pythia: Any | None = None) -> dict[str, Any]:
    """Hadron table (numpy arrays + names) for hadml._core, from Pythia's ParticleData."""
    if pythia is None:
        pythia = _quiet_pythia()
    pd = pythia.particleData
    ids: list[int] = []
    pid = 1  # nextId(0) returns 0 in pythia8mc; id 1 (d quark) is no hadron anyway
    while True:
        pid = pd.nextId(pid)
        if pid == 0:
            break
        if pd.isHadron(pid) and _is_candidate(pid) and _pythia_can_handle(pd, pid):
            ids.append(pid)
    if not ids:
        raise RuntimeError("Pythia's particle data holds no candidate hadrons; is it initialised?")
    return {
        "id": np.asarray(ids, dtype=np.int32),
        "name": [pd.name(i) for i in ids],
        "mass": np.asarray([pd.m0(i) for i in ids], dtype=np.float64),
        "width": np.asarray([pd.mWidth(i) for i in ids], dtype=np.float64),
        # Breit-Wigner range of the mass of one hadron (Pythia's mMin, mMax).
        "mass_min": np.asarray([pd.mMin(i) for i in ids], dtype=np.float64),
        "mass_max": np.asarray([pd.mMax(i) for i in ids], dtype=np.float64),
        "spin_multiplicity": np.asarray([pd.spinType(i) for i in ids], dtype=np.int32),
        "charge3": np.asarray([pd.chargeType(i) for i in ids], dtype=np.int32),
    }
