"""Candidate hadrons for the cluster model, read from Pythia 8's particle data.

Herwig 7's HadronSelector builds its table from every hadron in its particle data except
K0_L/K0_S (the selector works with K0/K0bar), radial excitations and the hadrons it
forbids (src/Hadronization/HadronSelector.cc, src/defaults/Hadronization.in). We apply the
same rules to the hadrons Pythia knows, so that Pythia can decay every hadron we make:
  * mesons of the S- and P-wave multiplets (PDG codes n_L n_q2 n_q3 n_J with n_L <= 2,
    i.e. |id| < 30000), u/d/s/c/b only (no top, no 9xxxxxx exotics, no radial 100000+);
  * ground-state baryons (four-digit codes: octet, decuplet and their heavy partners);
  * not 130 / 310 (K0_L, K0_S are mixtures Pythia produces in its decays of K0).
Masses, widths, spins and charges all come from Pythia; nothing is typed in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_K0_MIXTURES = (130, 310)


def _is_candidate(pid: int) -> bool:
    if pid in _K0_MIXTURES or pid >= 30000:
        return False
    digits = pid % 10000
    nq1, nq2, nq3, nj = digits // 1000, (digits // 100) % 10, (digits // 10) % 10, digits % 10
    if nj == 0 or nq3 == 0 or nq2 == 0:
        return False
    if max(nq1, nq2, nq3) > 5:
        return False
    if nq1 != 0 and pid >= 10000:  # excited baryons (e.g. 14122): not a lowest multiplet
        return False
    return True


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
        if pd.isHadron(pid) and _is_candidate(pid):
            ids.append(pid)
    if not ids:
        raise RuntimeError("Pythia's particle data holds no candidate hadrons; is it initialised?")
    return {
        "id": np.asarray(ids, dtype=np.int32),
        "name": [pd.name(i) for i in ids],
        "mass": np.asarray([pd.m0(i) for i in ids], dtype=np.float64),
        "width": np.asarray([pd.mWidth(i) for i in ids], dtype=np.float64),
        "spin_multiplicity": np.asarray([pd.spinType(i) for i in ids], dtype=np.int32),
        "charge3": np.asarray([pd.chargeType(i) for i in ids], dtype=np.int32),
    }
