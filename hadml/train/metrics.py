"""Validation metrics: 1-D Wasserstein distances and binned two-sample chi2."""

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


# Binning of the decay angles, shared by the validation metric and training/closure.py.
COS_THETA_EDGES = np.linspace(-1.0, 1.0, 41)
PHI_EDGES = np.linspace(-np.pi, np.pi, 41)


def chi2_two_samples(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> tuple[float, int]:
    """chi2 and ndf of two normalised histograms with Poisson errors on both samples:
    sum over filled bins of (a_i/N_a - b_i/N_b)^2 / (a_i/N_a^2 + b_i/N_b^2)."""
    ha, _ = np.histogram(a, edges)
    hb, _ = np.histogram(b, edges)
    na, nb = max(len(a), 1), max(len(b), 1)
    filled = (ha + hb) > 0
    diff2 = (ha / na - hb / nb) ** 2
    var = ha / na**2 + hb / nb**2
    return float(np.sum(diff2[filled] / var[filled])), int(filled.sum())


def chi2_ndf(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> float:
    c2, ndf = chi2_two_samples(a, b, edges)
    return c2 / max(ndf, 1)
