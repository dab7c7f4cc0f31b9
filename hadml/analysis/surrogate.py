"""Polynomial surrogates of generator predictions and their minimisation (Professor method).

Buckley, Hoeth, Lacker, Schulz, von Seggern, "Systematic event generator tuning for the
LHC", Eur. Phys. J. C65 (2010) 331, arXiv:0907.2973: sample the generator at points in a
box of parameters, fit one polynomial per bin (and one per bin to its MC error), and
minimise a chi2 built from those polynomials instead of from new runs.

Everything here is pure numpy (plus iminuit for the minimisation); the generator runs and
the files live in :mod:`hadml.analysis.tune`.

Conventions
-----------
* Parameters are fitted in unit coordinates ``x = 2 (p - low) / (high - low) - 1`` in
  [-1, 1]^d, so that monomials of every degree have comparable size.
* A polynomial of order ``k`` in ``d`` parameters has ``C(d + k, k)`` coefficients (all
  monomials of total degree <= k).
* The per-bin chi2 is the one of :func:`hadml.analysis.compare.chi2`:
  ``(mc - data)^2 / (sigma_data^2 + sigma_mc^2)`` with the data error on the side facing
  the MC value.
* The objective gives each observable group the same weight:
  ``F = (1 / G) sum_g chi2_g / ndf_g``. Written as a weighted chi2 with per-bin weights
  ``w_b = N / (G ndf_g(b))`` (N = bins used, so the weights sum to N) it is
  ``chi2_w = N F``; parameter errors are those of ``Delta chi2_w = 1`` (Hesse), which is
  the ordinary chi2 rule whenever all groups have the same number of bins.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SAMPLINGS = ("lhs", "uniform")


@dataclass(frozen=True)
class Parameter:
    name: str
    low: float
    high: float


@dataclass(frozen=True)
class ParameterBox:
    """A box of parameter ranges: the region sampled and the limits of the minimisation."""

    parameters: tuple[Parameter, ...]

    def __post_init__(self) -> None:
        if not self.parameters:
            raise ValueError("the parameter box is empty")
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names repeat in the box: {names}")
        for p in self.parameters:
            if not (math.isfinite(p.low) and math.isfinite(p.high) and p.low < p.high):
                raise ValueError(f"parameter {p.name}: need finite low < high, got "
                                 f"[{p.low}, {p.high}]")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def low(self) -> np.ndarray:
        return np.array([p.low for p in self.parameters])

    @property
    def high(self) -> np.ndarray:
        return np.array([p.high for p in self.parameters])

    @property
    def dim(self) -> int:
        return len(self.parameters)

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Physical values (..., d) -> unit coordinates in [-1, 1]."""
        return 2.0 * (np.asarray(values, dtype=float) - self.low) / (self.high - self.low) - 1.0

    def from_unit(self, x: np.ndarray) -> np.ndarray:
        return self.low + 0.5 * (np.asarray(x, dtype=float) + 1.0) * (self.high - self.low)

    def sample(self, n: int, method: str = "lhs", seed: int = 1) -> np.ndarray:
        """n points (n, d) in the box: ``uniform`` random, or a Latin hypercube (``lhs``:
        each parameter's range cut into n equal strata, one point per stratum, the strata
        paired at random across parameters; McKay, Beckman, Conover 1979)."""
        if n < 1:
            raise ValueError(f"number of points must be positive, got {n}")
        rng = np.random.default_rng(seed)
        if method == "uniform":
            u = rng.random((n, self.dim))
        elif method == "lhs":
            strata = np.stack([rng.permutation(n) for _ in range(self.dim)], axis=1)
            u = (strata + rng.random((n, self.dim))) / n
        else:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {method!r}")
        return self.low + u * (self.high - self.low)


def n_coefficients(dim: int, order: int) -> int:
    """Number of monomials of total degree <= order in dim variables: C(dim+order, order)."""
    return math.comb(dim + order, order)


def exponents(dim: int, order: int) -> np.ndarray:
    """Exponent vectors (C, dim) of all monomials of total degree <= order, by degree."""
    out = [e for deg in range(order + 1)
           for e in itertools.product(range(deg + 1), repeat=dim) if sum(e) == deg]
    return np.array(sorted(out, key=lambda e: (sum(e), tuple(-v for v in e))), dtype=int)


def design_matrix(x: np.ndarray, exps: np.ndarray) -> np.ndarray:
    """Monomials of unit coordinates x (n, d) -> (n, C)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    return np.prod(x[:, None, :] ** exps[None, :, :], axis=2)


def leverage(box: ParameterBox, order: int, fit_points: np.ndarray,
             at: np.ndarray) -> np.ndarray:
    """h(v) = x(v)^T (X^T X)^-1 x(v) of a least-squares polynomial fitted at ``fit_points``
    (physical, (n, d)), at physical points ``at`` (..., d): the variance of the fitted
    prediction at v in units of one point's noise variance, for points of equal variance
    (mean over the fit points: n_coefficients / n)."""
    exps = exponents(box.dim, order)
    matrix = design_matrix(box.to_unit(np.atleast_2d(fit_points)), exps)
    gram_inv = np.linalg.inv(matrix.T @ matrix)
    at = np.asarray(at, dtype=float)
    x = design_matrix(box.to_unit(at.reshape(-1, box.dim)), exps)
    return np.einsum("ij,jk,ik->i", x, gram_inv, x).reshape(at.shape[:-1])


@dataclass
class PolynomialSurrogate:
    """One polynomial per bin, fitted by least squares in unit coordinates."""

    box: ParameterBox
    order: int
    coefficients: np.ndarray  # (C, n_bins)

    @classmethod
    def fit(cls, box: ParameterBox, order: int, points: np.ndarray,
            values: np.ndarray) -> PolynomialSurrogate:
        """Least-squares fit of values (n_points, n_bins) at physical points (n_points, d)."""
        if order not in (1, 2, 3, 4):
            raise ValueError(f"polynomial order must be 1-4, got {order}")
        points = np.atleast_2d(np.asarray(points, dtype=float))
        values = np.asarray(values, dtype=float)
        n_coef = n_coefficients(box.dim, order)
        if len(points) < n_coef:
            raise ValueError(f"{len(points)} points cannot fix {n_coef} coefficients "
                             f"(order {order} in {box.dim} parameters)")
        matrix = design_matrix(box.to_unit(points), exponents(box.dim, order))
        coef, *_ = np.linalg.lstsq(matrix, values, rcond=None)
        return cls(box, order, coef)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Predictions at physical points (..., d) -> (..., n_bins)."""
        values = np.asarray(values, dtype=float)
        matrix = design_matrix(self.box.to_unit(values.reshape(-1, self.box.dim)),
                               exponents(self.box.dim, self.order))
        out = matrix @ self.coefficients
        return out.reshape(*values.shape[:-1], self.coefficients.shape[1])


def bin_chi2(mc: np.ndarray, mc_err: np.ndarray, data: np.ndarray, err_minus: np.ndarray,
             err_plus: np.ndarray) -> np.ndarray:
    """Per-bin chi2 as in hadml.analysis.compare.chi2 (data error on the side facing mc)."""
    diff = mc - data
    sig_data = np.where(diff > 0, err_plus, err_minus)
    var = sig_data**2 + mc_err**2
    return np.divide(diff**2, var, out=np.zeros_like(diff), where=var > 0)


@dataclass
class GroupedChi2:
    """The tuning objective over a fixed set of bins, each bin belonging to one group.

    ``F = (1/G) sum_g chi2_g / ndf_g`` (each group counts equally, and within a group
    each bin counts equally); ``chi2_w = N F`` is the same as a weighted chi2 whose
    weights sum to the number of bins N.
    """

    data: np.ndarray
    err_minus: np.ndarray
    err_plus: np.ndarray
    group_of_bin: np.ndarray  # int index into groups
    groups: tuple[str, ...]

    def __post_init__(self) -> None:
        counts = np.bincount(self.group_of_bin, minlength=len(self.groups))
        if np.any(counts == 0):
            empty = [g for g, c in zip(self.groups, counts, strict=True) if c == 0]
            raise ValueError(f"observable group(s) without bins: {empty}")
        self.ndf = counts
        n = len(self.data)
        self.weights = n / (len(self.groups) * counts[self.group_of_bin])

    @property
    def n_bins(self) -> int:
        return len(self.data)

    def per_group(self, mc: np.ndarray, mc_err: np.ndarray) -> dict[str, tuple[float, int]]:
        """{group: (chi2, ndf)} of a prediction."""
        terms = bin_chi2(mc, mc_err, self.data, self.err_minus, self.err_plus)
        sums = np.bincount(self.group_of_bin, weights=terms, minlength=len(self.groups))
        return {g: (float(s), int(n)) for g, s, n in zip(self.groups, sums, self.ndf,
                                                         strict=True)}

    def objective(self, mc: np.ndarray, mc_err: np.ndarray) -> float:
        """F = mean over groups of chi2_g / ndf_g."""
        terms = bin_chi2(mc, mc_err, self.data, self.err_minus, self.err_plus)
        return float(np.dot(self.weights, terms)) / self.n_bins

    def noise_terms(self, mc_err: np.ndarray) -> np.ndarray:
        var = (0.5 * (self.err_minus + self.err_plus)) ** 2 + mc_err**2
        return np.divide(mc_err**2, var, out=np.zeros_like(var), where=var > 0)

    def noise_objective(self, mc_err: np.ndarray) -> float:
        """What the statistical noise of one run adds to its F on average:
        sigma_mc^2 / (sigma_data^2 + sigma_mc^2) per bin (the surrogate is smooth, a run
        is not), with sigma_data the mean of the two sides."""
        return float(np.dot(self.weights, self.noise_terms(mc_err))) / self.n_bins

    def noise_per_group(self, mc_err: np.ndarray) -> dict[str, float]:
        """The same per group: what the run's noise adds to chi2_g / ndf_g on average."""
        sums = np.bincount(self.group_of_bin, weights=self.noise_terms(mc_err),
                           minlength=len(self.groups))
        return {g: float(s / n) for g, s, n in zip(self.groups, sums, self.ndf, strict=True)}


@dataclass
class MinimumResult:
    names: list[str]
    values: np.ndarray
    errors: np.ndarray  # Hesse, Delta chi2_w = 1
    covariance: np.ndarray
    objective: float  # F at the minimum
    chi2_w: float
    n_bins: int
    valid: bool
    at_limit: list[str]  # parameters within 1% of the box edge

    @property
    def scale_factor(self) -> float:
        """sqrt(chi2_w / (N - n_par)), at least 1: errors times this account for a poor
        description (the PDG scale-factor convention)."""
        ndf = max(self.n_bins - len(self.names), 1)
        return max(1.0, math.sqrt(self.chi2_w / ndf))


def minimise(objective: GroupedChi2, prediction: PolynomialSurrogate,
             error: PolynomialSurrogate, starts: Sequence[np.ndarray],
             hesse: bool = True) -> MinimumResult:
    """Minimise chi2_w(p) = N F(p) of the surrogate inside the box with MIGRAD (from each
    start; the lowest minimum wins) and compute the Hesse errors (Delta chi2_w = 1;
    ``hesse=False``: MIGRAD's estimate, for the replicas)."""
    try:
        from iminuit import Minuit
    except ImportError as err:  # a declared dependency; a clear message if missing
        raise RuntimeError("the tuner needs iminuit: pip install iminuit") from err
    box = prediction.box
    n = objective.n_bins

    def chi2_w(*values: float) -> float:
        p = np.asarray(values)
        mc = prediction(p)
        err = np.abs(error(p))
        return n * objective.objective(mc, err)

    best = None
    for start in starts:
        m = Minuit(chi2_w, *np.clip(np.asarray(start, dtype=float), box.low, box.high),
                   name=box.names)
        m.errordef = Minuit.LEAST_SQUARES
        m.limits = list(zip(box.low, box.high, strict=True))
        m.errors = 0.05 * (box.high - box.low)
        m.migrad()
        if best is None or m.fval < best.fval:
            best = m
    assert best is not None
    if hesse:
        best.hesse()
    values = np.array(best.values)
    span = box.high - box.low
    edge = [name for name, v, lo, hi, s in zip(box.names, values, box.low, box.high, span,
                                                strict=True)
            if v - lo < 0.01 * s or hi - v < 0.01 * s]
    return MinimumResult(box.names, values, np.array(best.errors),
                         np.array(best.covariance), float(best.fval) / n, float(best.fval), n,
                         bool(best.valid), edge)


def replica_optima(objective: GroupedChi2, prediction: PolynomialSurrogate,
                   error: PolynomialSurrogate, points: np.ndarray, values: np.ndarray,
                   starts: Sequence[np.ndarray], n_replicas: int = 50,
                   seed: int = 1) -> np.ndarray:
    """Optima (n_replicas, d) of surrogates refitted to bootstrap replicas of the runs:
    the points drawn with replacement, each keeping its whole prediction vector (values:
    (n_points, n_bins)), so that the noise a run shares across its histograms (one
    fluctuation of n_ch moves every multiplicity observable) is kept. Their spread is the
    part of the parameter uncertainty that comes from the finite statistics of the runs:
    the surrogate's own noise moves the minimum, which one surrogate's Hesse errors cannot
    see. Each replica is minimised from all ``starts`` (the optimum and the starts of the
    main fit): a noisy surrogate can have several nearly equal minima, and a replica that
    only looks near the main optimum would hide that spread (measured: errors about 2x too
    small). Draws with fewer distinct points than coefficients are redrawn. The spread of
    these optima is to be multiplied by sqrt(n / (n - C)) (:func:`bootstrap_scale`), the
    usual correction of a bootstrap for the degrees of freedom the fit uses up."""
    rng = np.random.default_rng(seed)
    n = len(points)
    n_coef = prediction.coefficients.shape[0]
    out = []
    while len(out) < n_replicas:
        pick = rng.integers(0, n, n)
        if len(np.unique(pick)) < n_coef + 1:
            continue
        replica = PolynomialSurrogate.fit(prediction.box, prediction.order, points[pick],
                                          values[pick])
        out.append(minimise(objective, replica, error, starts, hesse=False).values)
    return np.array(out)


def bootstrap_scale(n_points: int, n_coefficients: int) -> float:
    """sqrt(n / (n - C)): a bootstrap of n points resamples residuals that the fit of C
    coefficients has shrunk by (n - C) / n in variance."""
    return math.sqrt(n_points / max(n_points - n_coefficients, 1))
