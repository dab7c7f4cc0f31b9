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


def momentum_tensors(p3: np.ndarray, event: np.ndarray,
                     n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues [n_events, 3] (ascending) and unit eigenvectors [n_events, 3, 3]
    (columns) of each event's normalised momentum tensor sum_i p_i^a p_i^b / sum_i |p_i|^2
    (r = 2, as hadml.analysis.observables.momentum_tensor_eigen), for all events at once;
    particles' 3-momenta ``p3`` [n, 3], event index ``event`` [n]."""
    tensor = np.empty((n_events, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            tensor[:, a, b] = tensor[:, b, a] = np.bincount(event, p3[:, a] * p3[:, b],
                                                            minlength=n_events)
    norm = np.bincount(event, (p3 ** 2).sum(1), minlength=n_events)
    tensor /= np.maximum(norm, 1e-12)[:, None, None]
    return np.linalg.eigh(tensor)


def sphericity_axes(p3: np.ndarray, event: np.ndarray, n_events: int) -> np.ndarray:
    """Unit sphericity axis of each event [n_events, 3] (eigenvector of the largest
    eigenvalue of the momentum tensor)."""
    return momentum_tensors(p3, event, n_events)[1][:, :, -1]


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


#: Optional thrust-axis inputs (``shape_inputs``), made from the charged particles as the
#: ALEPH 1996 analysis makes them (hadml.analysis.analyses): per particle, |rapidity|
#: along the charged thrust axis and |p| along the charged sphericity major and minor axes
#: (pT_in, pT_out); per event, n_ch, thrust, sphericity and aplanarity of the charged
#: particles. A Deep Sets network pools particles one at a time, so it cannot form an
#: event axis from the set; these hand it the axes of the analyses that fail without them
#: (docs/reweighting.md, "What makes DCTR close at 50k").
SHAPE_PARTICLE_FEATURES = ("abs_y_thrust", "pt_in", "pt_out")
SHAPE_EVENT_FEATURES = ("n_ch", "thrust", "sphericity", "aplanarity")
#: Smallest width used to standardise each shape event input (thrust and aplanarity vary
#: by a few hundredths; n_ch by about 6).
SHAPE_EVENT_MIN_WIDTH = (0.5, 1e-3, 1e-3, 1e-3)
#: Fixed-point iterations of the thrust axis (n -> sum_i sign(p_i . n) p_i).
THRUST_ITERATIONS = 12


def _bincount3(event: np.ndarray, v: np.ndarray, n_events: int) -> np.ndarray:
    return np.stack([np.bincount(event, v[:, a], minlength=n_events) for a in range(3)], 1)


def thrust_axes(p3: np.ndarray, event: np.ndarray, n_events: int,
                start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(thrust [n_events], unit axis [n_events, 3]) of all events at once by the
    fixed-point iteration n -> sum_i sign(p_i . n) p_i (each step does not decrease
    sum_i |p_i . n|; Brandt et al., Phys. Lett. 12 (1964) 57), from the axis ``start``
    and from the direction of each event's hardest particle, keeping the larger. A local
    maximum where both starts end in one: an input of the classifier, not the analyses'
    exact thrust (hadml.analysis.observables.thrust_axis)."""
    pabs = np.sqrt((p3 ** 2).sum(1))
    total = np.maximum(np.bincount(event, pabs, minlength=n_events), 1e-12)
    order = np.lexsort((-pabs, event))
    first = np.searchsorted(event[order], np.arange(n_events))
    hardest = np.zeros((n_events, 3))
    has = first < len(order)
    hardest[has] = p3[order[first[has]]]
    best_t, best_axis = np.full(n_events, -1.0), np.zeros((n_events, 3))
    for axis in (np.asarray(start, dtype=np.float64), hardest):
        axis = axis / np.maximum(np.sqrt((axis ** 2).sum(1)), 1e-12)[:, None]
        for _ in range(THRUST_ITERATIONS):
            sign = np.where((p3 * axis[event]).sum(1) >= 0.0, 1.0, -1.0)
            c = _bincount3(event, sign[:, None] * p3, n_events)
            axis = c / np.maximum(np.sqrt((c ** 2).sum(1)), 1e-12)[:, None]
        t = np.bincount(event, np.abs((p3 * axis[event]).sum(1)), minlength=n_events) / total
        better = t > best_t
        best_t[better], best_axis[better] = t[better], axis[better]
    return best_t, best_axis


def shape_features(events: Sequence[dict[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(per-particle [n_particles, 3] in the order of particle_features, per-event
    [n_events, 4]) float32 thrust-axis inputs (SHAPE_PARTICLE_FEATURES,
    SHAPE_EVENT_FEATURES). Axes from the charged particles; every particle gets its
    coordinates along them. Events with fewer than 2 charged particles take the axes of
    all their particles."""
    counts = np.array([len(e["pid"]) for e in events], dtype=np.int64)
    n_events = len(events)
    p = np.concatenate([np.asarray(e["p"], dtype=np.float64) for e in events])
    pid = np.concatenate([np.asarray(e["pid"]) for e in events])
    event = np.repeat(np.arange(n_events), counts)
    charged = charge3(pid) != 0
    n_ch = np.bincount(event[charged], minlength=n_events)
    use = charged | (n_ch < 2)[event]
    p3 = p[:, :3]
    ev_u, p3_u = event[use], p3[use]
    # Momentum tensor of the used particles: eigenvalues l1 >= l2 >= l3, sphericity
    # 3/2 (l2 + l3), aplanarity 3/2 l3 (as hadml.analysis.observables, r = 2).
    vals, vecs = momentum_tensors(p3_u, ev_u, n_events)  # ascending
    thrust, t_axis = thrust_axes(p3_u, ev_u, n_events, vecs[:, :, 2])
    pl = (p3 * t_axis[event]).sum(1)
    e = p[:, 3]
    abs_y = 0.5 * np.abs(np.log(np.maximum(e + pl, 1e-300) / np.maximum(e - pl, 1e-300)))
    per_particle = np.stack([np.minimum(abs_y, MAX_ABS_ETA),
                             np.abs((p3 * vecs[:, :, 1][event]).sum(1)),
                             np.abs((p3 * vecs[:, :, 0][event]).sum(1))], axis=1)
    per_event = np.stack([n_ch.astype(np.float64), thrust, 1.5 * (vals[:, 1] + vals[:, 0]),
                          1.5 * vals[:, 0]], axis=1)
    return per_particle.astype(np.float32), per_event.astype(np.float32)
