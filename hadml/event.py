"""One generated event: the full history as flat arrays (HEPEVT-like, 0-based).

Status codes (also written to HepMC3):

====  ==========================================================================
4     incoming beam lepton
11    parton from the shower, on its constituent mass shell, entering a cluster
12    shower gluon split non-perturbatively into q qbar
13    cluster (PDG id 81)
2     hadron decayed by Pythia
1     final-state particle
====  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATUS_BEAM = 4
STATUS_PARTON = 11
STATUS_SPLIT_GLUON = 12
STATUS_CLUSTER = 13
STATUS_DECAYED = 2
STATUS_FINAL = 1
CLUSTER_PID = 81

# Cluster fates as the C++ cluster stage reports them (hadml::ClusterFate).
FATE_ACTIVE = 0
FATE_FISSIONED = 1
FATE_SINGLE_HADRON = 2
FATE_DECAYED = 3


@dataclass
class Event:
    number: int
    pid: np.ndarray  # int32 [n]
    status: np.ndarray  # int32 [n]
    p: np.ndarray  # float64 [n, 4] (px, py, pz, E) in GeV
    m: np.ndarray  # float64 [n] generated mass
    parents: np.ndarray  # int32 [n, 2]: first and last parent (inclusive), (-1, -1) if none

    def __len__(self) -> int:
        return len(self.pid)

    @property
    def final(self) -> np.ndarray:
        return self.status == STATUS_FINAL

    def final_state(self) -> dict[str, np.ndarray]:
        """The analysis input: final-state particles {'pid': [n], 'p': [n, 4]} plus the
        hadrons that decayed, 'decayed_pid' [k], 'decayed_p' [k, 4] and 'decayed_mother'
        [k] (index of the decayed hadron each came from, -1 if made by a cluster)."""
        mask = self.final
        # hadrons only, as read back from HepMC (a decayed tau is not a hadron)
        decayed = np.flatnonzero((self.status == STATUS_DECAYED) & (np.abs(self.pid) > 100))
        row = np.full(len(self), -1, dtype=np.int64)
        row[decayed] = np.arange(len(decayed))
        parent = self.parents[decayed, 0]
        mother = np.where(parent >= 0, row[np.maximum(parent, 0)], -1)
        return {"pid": self.pid[mask], "p": self.p[mask], "decayed_pid": self.pid[decayed],
                "decayed_p": self.p[decayed], "decayed_mother": mother}

    def primary_hadrons(self) -> dict[str, np.ndarray]:
        """Hadrons made by the cluster stage (children of clusters)."""
        parent = self.parents[:, 0]
        has_parent = parent >= 0
        mask = np.zeros(len(self), dtype=bool)
        mask[has_parent] = self.pid[parent[has_parent]] == CLUSTER_PID
        mask &= self.pid != CLUSTER_PID
        return {"pid": self.pid[mask], "p": self.p[mask]}


def baryon_number3(pid: np.ndarray) -> np.ndarray:
    """3 x baryon number from PDG codes (baryons have three quark digits, nq1 != 0)."""
    a = np.abs(pid)
    is_baryon = ((a // 1000) % 10 != 0) & (a < 10_000_000) & (a > 1000)
    # Diquarks (nq3 == 0) never appear among final particles; leptons, photons: 0.
    return np.where(is_baryon, 3 * np.sign(pid), 0)
