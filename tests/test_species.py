"""Herwig "Hwpp" species selection: frequencies, conservation laws, closed channels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hadml import _core
from hadml.hadrons import hadron_table

PARAMS = _core.default_params()


@pytest.fixture(scope="module")
def table() -> dict:
    return hadron_table()


@pytest.fixture(scope="module")
def spectrum(table: dict) -> _core.HadronSpectrum:
    return _core.HadronSpectrum(PARAMS, table)


def pstar(M: float, m1: float, m2: float) -> float:
    return math.sqrt((M * M - (m1 + m2) ** 2) * (M * M - (m1 - m2) ** 2)) / (2 * M)


def meson_weights(table: dict, q: int, qb: int) -> dict[int, float]:
    """(2J+1) x mixing for mesons made of quark q and antiquark qb, written independently."""
    th_p = math.radians(PARAMS["EtaMixAngle"])
    th_v = math.radians(PARAMS["PhiMixAngle"])

    def amp(theta: float) -> tuple[float, float, float, float]:
        # (light, strange) amplitude of X = cos X8 - sin X1 and X' = sin X8 + cos X1
        c, s = math.cos(theta), math.sin(theta)
        return (c / 6**0.5 - s / 3**0.5, -2 * c / 6**0.5 - s / 3**0.5,
                s / 6**0.5 + c / 3**0.5, -2 * s / 6**0.5 + c / 3**0.5)

    out: dict[int, float] = {}
    for pid, spin in zip(table["id"].tolist(), table["spin_multiplicity"].tolist(),
                         strict=True):
        d = pid % 10000
        n1, n2, n3 = d // 1000, (d // 100) % 10, (d // 10) % 10
        if n1 != 0:
            continue
        if q == qb and n2 == n3:
            light = q <= 2
            if n2 == 1:
                mix = 0.5 if light else 0.0
            elif pid in (221, 331, 223, 333):
                a = amp(th_p if pid in (221, 331) else th_v)
                idx = {221: 0, 331: 2, 333: 0, 223: 2}[pid] + (0 if light else 1)
                mix = a[idx] ** 2
            elif n2 == 2:
                mix = 0.5 if light else 0.0
            else:
                mix = 0.0 if light else 1.0
            if mix > 0:
                out[pid] = spin * mix
        elif q != qb and {n2, n3} == {q, qb} and n2 > n3:
            holds_quark = n2 % 2 == 0
            pos = (q == n2) if holds_quark else (qb == n2)
            out[pid if pos else -pid] = float(spin)
    return out


def test_frequencies_u_dbar(spectrum: _core.HadronSpectrum, table: dict) -> None:
    M = 1.2
    mass = dict(zip(table["id"].tolist(), table["mass"].tolist(), strict=True))
    pwt = {1: PARAMS["PwtDquark"], 2: PARAMS["PwtUquark"], 3: PARAMS["PwtSquark"]}
    expected: dict[tuple[int, int], float] = {}
    for q in (1, 2, 3):
        for h1, w1 in meson_weights(table, 2, q).items():
            for h2, w2 in meson_weights(table, q, 1).items():
                m1, m2 = mass[abs(h1)], mass[abs(h2)]
                if M > m1 + m2:
                    expected[(h1, h2)] = pwt[q] * w1 * w2 * pstar(M, m1, m2)
    # the baryon branch is closed at 1.2 GeV (p nbar threshold 1.88 GeV)
    assert spectrum.lightest_pair_mass(2, -1) == pytest.approx(mass[211] + mass[111], rel=1e-12)
    n = 200_000
    h1, h2 = spectrum.sample_pairs(M, 2, -1, n, 7)
    pairs, counts = np.unique(np.stack([h1, h2], 1), axis=0, return_counts=True)
    got = {(int(a), int(b)): int(c) for (a, b), c in zip(pairs, counts, strict=True)}
    assert set(got) <= set(expected), f"unexpected channels {set(got) - set(expected)}"
    tot = sum(expected.values())
    chi2, ndf = 0.0, -1
    for k, w in expected.items():
        mu = n * w / tot
        if mu > 20:
            chi2 += (got.get(k, 0) - mu) ** 2 / mu
            ndf += 1
        else:
            assert got.get(k, 0) < mu + 6 * math.sqrt(mu) + 5
    assert ndf >= 5
    # chi2/ndf within ~5 sigma of 1 for ndf degrees of freedom
    assert chi2 < ndf + 5 * math.sqrt(2 * ndf), (chi2, ndf)


@pytest.mark.parametrize(("id1", "id2", "M"), [(2, -1, 1.2), (2, -2, 2.5), (3, -4, 3.0),
                                               (2, 2101, 2.0), (-2101, -3, 2.2), (5, -2, 6.5)])
def test_conservation_and_open_channels(spectrum: _core.HadronSpectrum, table: dict,
                                        id1: int, id2: int, M: float) -> None:
    mass = dict(zip(table["id"].tolist(), table["mass"].tolist(), strict=True))
    ch3 = dict(zip(table["id"].tolist(), table["charge3"].tolist(), strict=True))

    def charge3(pid: int) -> int:
        return ch3[abs(pid)] * (1 if pid > 0 else -1)

    def parton_charge3(pid: int) -> int:
        a = abs(pid)
        qs = [a] if a < 10 else [a // 1000, (a // 100) % 10]
        c = sum(2 if f % 2 == 0 else -1 for f in qs)
        return c if pid > 0 else -c

    def baryon3(pid: int) -> int:
        b = 3 if (abs(pid) % 10000) // 1000 else 0
        return b if pid > 0 else -b

    def parton_baryon3(pid: int) -> int:
        b = 1 if abs(pid) < 10 else 2
        return b if pid > 0 else -b

    h1, h2 = spectrum.sample_pairs(M, id1, id2, 20_000, 3)
    q = parton_charge3(id1) + parton_charge3(id2)
    b = parton_baryon3(id1) + parton_baryon3(id2)
    pairs = list(zip(h1.tolist(), h2.tolist(), strict=True))
    assert all(charge3(a) + charge3(c) == q for a, c in pairs)
    assert all(baryon3(a) + baryon3(c) == b for a, c in pairs)
    m_sum = np.array([mass[abs(a)] + mass[abs(c)] for a, c in pairs])
    assert (m_sum < M).all()  # closed channels never chosen
    # hadron 2 carries id2's flavour: the cbar of the (s, cbar) cluster ends in a D meson
    if (id1, id2) == (3, -4):
        assert all((abs(c) // 100) % 10 == 4 and c < 0 for c in h2.tolist())


def test_baryon_branch_probability(spectrum: _core.HadronSpectrum) -> None:
    # Above the baryon-pair threshold the diquark branch is taken with probability
    # PwtDIquark / (1 + PwtDIquark) (HwppSelector::chooseHadronPair, mode 1)
    n = 100_000
    h1, _ = spectrum.sample_pairs(2.5, 2, -1, n, 5)
    frac = ((np.abs(h1) % 10000) // 1000 > 0).mean()
    p = PARAMS["PwtDIquark"] / (1 + PARAMS["PwtDIquark"])
    assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_lightest_hadron(spectrum: _core.HadronSpectrum) -> None:
    assert spectrum.lightest_hadron(2, -1) == 211
    assert spectrum.lightest_hadron(1, -2) == -211
    assert spectrum.lightest_hadron(2, -3) == 321
    assert spectrum.lightest_hadron(3, -2) == -321
    assert spectrum.lightest_hadron(2, -2) == 111
    assert spectrum.lightest_hadron(2, 2101) == 2212
    assert spectrum.lightest_hadron(-2101, -2) == -2212
    assert spectrum.lightest_hadron(4, -1) == 411


def test_below_threshold_raises(spectrum: _core.HadronSpectrum) -> None:
    with pytest.raises(RuntimeError, match="below every hadron pair"):
        spectrum.choose_hadron_pair(0.2, 2, -1, 1)
