"""Herwig ClusterDecayer::decayIntoTwoHadrons kinematics of the classic decayer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hadml import _core

PARAMS = _core.default_params()
M_PI, M_RHO = 0.13957, 0.77526  # test inputs only: any masses below the cluster mass work


def boost(p: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Active boost of (n,4) momenta (px,py,pz,E) by velocities b (n,3)."""
    b2 = (b * b).sum(1)
    g = 1 / np.sqrt(1 - b2)
    bp = (b * p[:, :3]).sum(1)
    f = np.where(b2 > 0, (g - 1) * bp / np.where(b2 > 0, b2, 1), 0) + g * p[:, 3]
    return np.column_stack([p[:, :3] + f[:, None] * b, g * (p[:, 3] + bp)])


def make_requests(n: int, pert1: bool, pert2: bool, seed: int = 5) -> dict:
    rng = np.random.default_rng(seed)
    mq = 0.325
    M = rng.uniform(1.5, 3.0, n)
    # constituents back to back in the cluster rest frame along a random axis, then boosted
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    pq = np.sqrt(M**2 / 4 - mq**2)
    c1 = np.column_stack([u * pq[:, None], M / 2])
    c2 = np.column_stack([-u * pq[:, None], M / 2])
    b = rng.normal(scale=0.4, size=(n, 3))
    b /= np.maximum(1.0, np.linalg.norm(b, axis=1) / 0.9)[:, None]
    c1, c2 = boost(c1, b), boost(c2, b)
    return {
        "c1_id": np.full(n, 2), "c2_id": np.full(n, -1), "c1_p": c1, "c2_p": c2,
        "c1_pert": np.full(n, pert1), "c2_pert": np.full(n, pert2), "p": c1 + c2,
        "id1": np.full(n, 213), "id2": np.full(n, 111),
        "m1": np.full(n, M_RHO), "m2": np.full(n, M_PI),
    }


def rest_cos(req: dict, out: dict, which: str) -> np.ndarray:
    """cos of the angle between hadron 1 and constituent `which` in the cluster rest frame."""
    p = req["p"]
    b = -p[:, :3] / p[:, 3:4]
    h = boost(out["p1"], b)[:, :3]
    c = boost(req[which], b)[:, :3]
    return (h * c).sum(1) / np.linalg.norm(h, axis=1) / np.linalg.norm(c, axis=1)


@pytest.fixture(scope="module")
def decayer() -> _core.ClassicClusterDecayer:
    return _core.ClassicClusterDecayer(PARAMS)


def test_conservation_and_mass_shell(decayer: _core.ClassicClusterDecayer) -> None:
    req = make_requests(5000, True, False)
    out = decayer.decay_arrays(req, 11)
    tot = out["p1"] + out["p2"]
    scale = req["p"][:, 3:4]
    assert np.abs(tot - req["p"]).max() / scale.min() < 1e-12
    for key, m in (("p1", M_RHO), ("p2", M_PI)):
        p = out[key]
        mass = np.sqrt(np.maximum(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(1), 0))
        # relative precision of E^2 - p^2 is ~1e-16 E^2 / m^2 for boosted hadrons
        assert np.abs(mass - m).max() < 1e-9


def test_nonperturbative_isotropic(decayer: _core.ClassicClusterDecayer) -> None:
    n = 40_000
    req = make_requests(n, False, False)
    cos = rest_cos(req, decayer.decay_arrays(req, 3), "c1_p")
    counts, _ = np.histogram(cos, bins=20, range=(-1, 1))
    mu = n / 20
    chi2 = ((counts - mu) ** 2 / mu).sum()
    assert chi2 < 19 + 5 * math.sqrt(2 * 19)  # 5 sigma for 19 degrees of freedom


@pytest.mark.parametrize(("pert1", "pert2", "which", "sign"),
                         [(True, False, "c1_p", 1), (False, True, "c2_p", -1),
                          (True, True, "c1_p", 1)])
def test_perturbative_direction(decayer: _core.ClassicClusterDecayer, pert1: bool,
                                pert2: bool, which: str, sign: int) -> None:
    n = 40_000
    S = PARAMS["ClSmrLight"]
    req = make_requests(n, pert1, pert2)
    # hadron 1 follows constituent 1; when only constituent 2 is perturbative hadron 2
    # follows it, i.e. hadron 1 goes opposite to constituent 2; with both perturbative
    # (equal priority) Herwig picks one by a coin, and since the constituents are back to
    # back in the rest frame either choice gives the same distribution w.r.t. constituent 1
    cos = sign * rest_cos(req, decayer.decay_arrays(req, 9), which)
    # cos = 1 + S ln r, redrawn below -1: P(cos < c) = (e^{(c-1)/S} - e^{-2/S}) / (1 - e^{-2/S})
    lo = math.exp(-2 / S)
    for c in np.linspace(-0.9, 0.9, 10):
        expect = (math.exp((c - 1) / S) - lo) / (1 - lo)
        got = (cos < c).mean()
        sigma = math.sqrt(expect * (1 - expect) / n)
        assert abs(got - expect) < 5 * sigma + 1e-4, (c, got, expect)
