"""Per-particle inputs of the reweighting classifier (numpy; no torch).

The classifier sees each event as the set of its final-state particles (after hadron
decays: what the LEP analyses measure). e+e- -> hadrons events have no preferred direction
in the lab, so the inputs are invariant under rotations: momenta are taken relative to
the event's sphericity axis (the principal axis of sum_i p_i^a p_i^b / sum_i |p_i|^2, as in
ALEPH's event-shape analyses), so the network does not have to learn the symmetry.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hadml.analysis.analyses import PDG_SPECIES
from hadml.analysis.observables import charge3

#: Names of the per-particle inputs, in order.
PARTICLE_FEATURES = ("x_p", "log_x_p", "pt_sph", "abs_eta_sph", "mass", "charge", "photon")
N_PARTICLE_FEATURES = len(PARTICLE_FEATURES)
#: |pseudorapidity| along the sphericity axis is capped here (a particle along the axis).
MAX_ABS_ETA = 6.0
#: Event-level species inputs (optional, ``species_inputs``): per event, the number of
#: hadrons of each species of the PDG multiplicity table (hadml.analysis.analyses
#: PDG_SPECIES), final and decayed ones together (K0S, Lambda, phi, K* and the other
#: decayed hadrons are invisible in the final state).
EVENT_SPECIES = tuple(PDG_SPECIES)
N_EVENT_FEATURES = len(EVENT_SPECIES)


def sphericity_axes(p3: np.ndarray, event: np.ndarray, n_events: int) -> np.ndarray:
    """Unit sphericity axis of each event [n_events, 3] (eigenvector of the largest
    eigenvalue of the momentum tensor); particles' 3-momenta ``p3`` [n, 3], event index
    ``event`` [n]."""
    tensor = np.empty((n_events, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            tensor[:, a, b] = tensor[:, b, a] = np.bincount(event, p3[:, a] * p3[:, b],
                                                            minlength=n_events)
    norm = np.bincount(event, (p3 ** 2).sum(1), minlength=n_events)
    tensor /= np.maximum(norm, 1e-12)[:, None, None]
    _, vecs = np.linalg.eigh(tensor)  # ascending eigenvalues
    return vecs[:, :, -1]


def particle_features(events: Sequence[dict[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(features [n_particles, N_PARTICLE_FEATURES] float32, particles per event [n_events]
    int64) of the final-state particles of ``events`` (analysis events: 'pid', 'p').

    x_p = 2|p| / E_vis with E_vis the event's summed final-state energy (sqrt(s) without
    ISR), pT and |eta| relative to the sphericity axis, the mass sqrt(E^2 - p^2) (GeV),
    the charge (e) and a photon flag."""
    counts = np.array([len(e["pid"]) for e in events], dtype=np.int64)
    if len(events) == 0 or counts.sum() == 0:
        raise ValueError("no particles: the sample is empty")
    p = np.concatenate([np.asarray(e["p"], dtype=np.float64) for e in events])
    pid = np.concatenate([np.asarray(e["pid"]) for e in events])
    event = np.repeat(np.arange(len(events)), counts)
    e_vis = np.bincount(event, p[:, 3], minlength=len(events))
    p3 = p[:, :3]
    pabs = np.sqrt((p3 ** 2).sum(1))
    axis = sphericity_axes(p3, event, len(events))[event]
    p_long = (p3 * axis).sum(1)
    pt = np.sqrt(np.maximum(pabs ** 2 - p_long ** 2, 0.0))
    # |eta| = asinh(|p_long| / pT), capped for particles along the axis.
    eta = np.minimum(np.arcsinh(np.abs(p_long) / np.maximum(pt, 1e-9)), MAX_ABS_ETA)
    x_p = 2.0 * pabs / np.maximum(e_vis[event], 1e-9)
    mass = np.sqrt(np.maximum(p[:, 3] ** 2 - pabs ** 2, 0.0))
    feats = np.stack([
        x_p, np.log(np.maximum(x_p, 1e-6)), pt, eta, mass, charge3(pid) / 3.0,
        (pid == 22).astype(np.float64),
    ], axis=1)
    return feats.astype(np.float32), counts


def species_counts(events: Sequence[dict[str, np.ndarray]]) -> np.ndarray:
    """[n_events, N_EVENT_FEATURES] float32: per event the number of hadrons of each
    species of EVENT_SPECIES among the final particles ('pid') and the decayed hadrons
    ('decayed_pid', required), counted as hadml.analysis's PDG multiplicities count them."""
    keys = np.unique(np.concatenate([ids for _, ids in PDG_SPECIES.values()]))
    matrix = np.zeros((len(keys), N_EVENT_FEATURES))
    for k, (_, ids) in enumerate(PDG_SPECIES.values()):
        matrix[np.searchsorted(keys, ids), k] = 1.0
    out = np.zeros((len(events), N_EVENT_FEATURES), dtype=np.float32)
    for i, e in enumerate(events):
        if "decayed_pid" not in e:
            raise ValueError("species inputs need the decayed hadrons of each event "
                             "('decayed_pid'; HepMC3 files of hadml generate have them)")
        a = np.abs(np.concatenate([np.asarray(e["pid"]), np.asarray(e["decayed_pid"])]))
        idx = np.minimum(np.searchsorted(keys, a), len(keys) - 1)
        hit = keys[idx] == a
        out[i] = np.bincount(idx[hit], minlength=len(keys)) @ matrix
    return out
