"""Validation metrics: 1-D Wasserstein distances."""

from __future__ import annotations

import numpy as np


def wasserstein_1d(u: np.ndarray, v: np.ndarray) -> float:
    """W1 between two empirical 1-D distributions: the integral of |F_u - F_v| (the same
    definition as scipy.stats.wasserstein_distance with unit weights)."""
    u = np.sort(np.asarray(u, dtype=np.float64))
    v = np.sort(np.asarray(v, dtype=np.float64))
    if u.size == 0 or v.size == 0:
        raise ValueError("Wasserstein distance of an empty sample")
    allv = np.sort(np.concatenate([u, v]))
    deltas = np.diff(allv)
    cu = np.searchsorted(u, allv[:-1], side="right") / u.size
    cv = np.searchsorted(v, allv[:-1], side="right") / v.size
    return float(np.sum(np.abs(cu - cv) * deltas))


def lab_observables(p: np.ndarray) -> dict[str, np.ndarray]:
    """Lab-frame hadron kinematics compared in validation: energy, pT, cos(polar angle)."""
    pabs = np.sqrt((p[:, :3] ** 2).sum(1))
    return {
        "e": p[:, 3],
        "pt": np.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2),
        "costheta_lab": p[:, 2] / np.where(pabs > 0, pabs, 1.0),
    }
