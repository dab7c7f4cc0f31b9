"""Validation metrics: 1-D Wasserstein distances and the binned two-sample chi2 (the one
definition, used by the training monitor and training/closure.py) with its p-values."""

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
    """Two-sample chi2 of the shapes of two independent, unweighted samples, and its ndf.

    With n1_i, n2_i the counts in bin i and N1, N2 the entries inside ``edges``:
    chi2 = sum_i (sqrt(N2/N1) n1_i - sqrt(N1/N2) n2_i)^2 / (n1_i + n2_i) over the bins
    with n1_i + n2_i > 0, ndf = (number of such bins) - 1, since only the shapes are
    compared (N. D. Gagunashvili, Nucl. Instrum. Meth. A 614 (2010) 287, eq. 5; ROOT's
    TH1::Chi2Test "UU"). Under the null the expectation is ndf for independent samples;
    for correlated ones (shared clusters) it is not, which is why the closure test takes
    its null distribution from classic-vs-classic runs (training/closure.py).
    """
    ha, _ = np.histogram(a, edges)
    hb, _ = np.histogram(b, edges)
    na, nb = int(ha.sum()), int(hb.sum())
    if na == 0 or nb == 0:
        return float("nan"), 0
    filled = (ha + hb) > 0
    ha, hb = ha[filled].astype(np.float64), hb[filled].astype(np.float64)
    r = np.sqrt(nb / na)
    c2 = float(np.sum((r * ha - hb / r) ** 2 / (ha + hb)))
    return c2, max(int(filled.sum()) - 1, 0)


def chi2_ndf(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> float:
    """chi2 / ndf of :func:`chi2_two_samples` (nan when either sample is empty in range)."""
    c2, ndf = chi2_two_samples(a, b, edges)
    return c2 / ndf if ndf > 0 else float("nan")


def equiprobable_edges(reference: np.ndarray, n_bins: int,
                       discrete: bool = False) -> np.ndarray:
    """Bin edges with about equal counts of ``reference`` per bin, open at both ends (every
    entry of either sample is in range). Integer-valued observables get half-integer edges.
    Unlike fixed bins, they resolve a narrow peak (the forward decays of bottom clusters,
    1 - cos theta ~ 0.08) as finely as a broad distribution."""
    q = np.quantile(reference, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    if discrete:
        q = np.floor(q) + 0.5
    return np.concatenate([[-np.inf], np.unique(q), [np.inf]])


def chi2_sf(x: float, ndf: float) -> float:
    """P(chi2_ndf >= x), the regularised upper incomplete gamma Q(ndf/2, x/2)."""
    import torch

    if ndf <= 0:
        return float("nan")
    return float(torch.special.gammaincc(torch.tensor(ndf / 2.0, dtype=torch.float64),
                                         torch.tensor(max(x, 0.0) / 2.0, dtype=torch.float64)))


def empirical_p(value: float, null: np.ndarray) -> float:
    """Rank p-value of ``value`` in an empirical null sample: (1 + #{null >= value}) /
    (1 + n). Exact for exchangeable samples, but never below 1 / (n + 1)."""
    null = np.asarray(null, dtype=np.float64)
    return float((1 + np.count_nonzero(null >= value)) / (1 + null.size))


def null_scale(null: np.ndarray, ndf: int) -> float:
    """c of the null model c * chi2_ndf fitted to a null sample of chi2 values (c = mean /
    ndf). Samples sharing their clusters give c < 1 (the shared part cancels in the
    difference); one parameter is what ten null seeds determine to about 10%."""
    null = np.asarray(null, dtype=np.float64)
    if null.size < 2 or ndf < 1:
        raise ValueError("a null scale needs at least two null values and ndf >= 1")
    mean = float(null.mean())
    if not mean > 0:
        raise ValueError(f"null sample with mean {mean}")
    return mean / ndf


def scaled_chi2_p(values: np.ndarray, null: np.ndarray, ndf: int) -> float:
    """p-value of the sum of the m statistics ``values`` (independent seeds) under the null
    model c * chi2_ndf (:func:`null_scale`): P(chi2_{m ndf} >= sum / c), by additivity."""
    values = np.asarray(values, dtype=np.float64)
    return chi2_sf(float(values.sum()) / null_scale(null, ndf), values.size * ndf)
