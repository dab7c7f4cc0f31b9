"""Retries of colour reconnection, fission and light-cluster handling on the same partons
(Herwig's ClusterHadronizationHandler::handle: up to 10 tries before the event is given
up), and their count in the run summary."""

from __future__ import annotations

import numpy as np
import pytest
from test_step_reshuffle import minkowski_m2

from hadml import _core
from hadml.generator import BlockResult, RunSummary
from hadml.hadrons import hadron_table

M_S, M_U = 0.45, 0.325  # Herwig 7.3 constituent masses (s, u)


def on_shell(mom: list, m: float) -> np.ndarray:
    v = np.asarray(mom, float)
    return np.append(v, np.sqrt(m**2 + v @ v))


def trap_event() -> tuple[np.ndarray, ...]:
    """Partons already on their constituent mass shells (reshuffling leaves them), no
    gluons:  A = (s1, sbar1) and B = (s2, sbar2), back to back along -+z with
    s1 || sbar2 and s2 || sbar1, and C = (u, ubar) moving along +x.
    Unreconnected, all three clusters are well above their two-hadron thresholds and far
    below fission: the event goes through. Plain reconnection swaps A and B (and nothing
    else), making A' = (s1, sbar2) and B' = (s2, sbar1) of mass ~0.90 GeV, below the KKbar
    threshold: two light clusters. Both have C as their nearest partner; the first takes
    it, and the second has no partner left: light-cluster handling fails."""
    s1, sb1 = on_shell([0, 0, 0.5], M_S), on_shell([0, 0, -0.5], M_S)
    s2, sb2 = on_shell([0, 0.025, -0.5], M_S), on_shell([0, 0.025, 0.5], M_S)
    u, ub = on_shell([0.8, 0.3, 0], M_U), on_shell([0.8, -0.3, 0], M_U)
    p = np.array([s1, sb1, s2, sb2, u, ub])
    ids = np.array([3, -3, 3, -3, 2, -2], np.int32)
    col = np.array([1, 0, 2, 0, 3, 0], np.int32)
    acol = np.array([0, 1, 0, 2, 0, 3], np.int32)
    return ids, col, acol, p


def mass(p: np.ndarray) -> float:
    return float(np.sqrt(minkowski_m2(p)))


def test_trap_event_construction() -> None:
    """The geometry claimed in trap_event's docstring, computed here."""
    _, _, _, p = trap_event()
    A, B, C = p[0] + p[1], p[2] + p[3], p[4] + p[5]
    Ar, Br = p[0] + p[3], p[2] + p[1]
    kk = 2 * 0.4937  # K+ K- threshold of an s sbar cluster
    assert mass(A) > kk and mass(B) > kk and 0.8 < mass(C) < 1.0
    assert 2 * M_S < mass(Ar) < kk and 2 * M_S < mass(Br) < kk
    # Fission is out of reach: Herwig's dynamic test passes two smooth steps,
    # 1 / (1 + |(threshold - shift) / scale|^a), for M^P against ClMax^P + (m1 + m2)^P and
    # for M against m1 + m2 + 2 m_d (ClusterFissioner::ProbablityFunction).
    d = _core.default_params()
    P, cl = d["ClPowLight"], d["ClMaxLight"]
    a, shift = d["ProbabilityPowerFactor"], d["ProbabilityShift"]

    def smooth(scale: float, threshold: float) -> float:
        return 1 / (1 + abs((threshold - shift) / scale) ** a)

    for X, msum in ((A, 2 * M_S), (B, 2 * M_S), (C, 2 * M_U)):
        m = mass(X)
        assert smooth(m**P, cl**P + msum**P) * smooth(m, msum + 2 * M_U) < 1e-6
    # Plain: swapping A and B lowers the summed mass; any swap with C raises it.
    assert mass(Ar) + mass(Br) < mass(A) + mass(B)
    for q, qb in ((0, 1), (2, 3)):
        assert mass(p[q] + p[5]) + mass(p[4] + p[qb]) > mass(p[q] + p[qb]) + mass(C)
    # After the swap, C is the nearest partner (pair mass) of both light clusters.
    assert mass(Ar + C) < mass(Ar + Br) and mass(Br + C) < mass(Ar + Br)


@pytest.fixture(scope="module")
def table() -> dict:
    return hadron_table()


def run(table: dict, params: dict, n: int, seed: int = 3) -> list[dict]:
    hz = _core.ClusterHadronizer({**_core.default_params(), **params}, table, None, seed)
    return hz.hadronize([trap_event()] * n)


def test_no_reconnection_no_retry(table: dict) -> None:
    out = run(table, {"ColourReconnection": 0}, 50)
    assert all(r["error"] is None and r["stage_tries"] == 1 for r in out)


def test_certain_failure_uses_every_try_then_gives_up(table: dict) -> None:
    for tries in (10, 3):
        out = run(table, {"ColourReconnection": 1, "ReconnectionProbability": 1.0,
                          "StageTries": tries}, 20)
        for r in out:
            assert r["stage_tries"] == tries
            assert f"in each of {tries} tries on the same partons" in r["error"]
            assert not r["conservation_violated"]


def test_retries_follow_the_geometric_law_and_keep_the_event(table: dict) -> None:
    """Each try fails when the reconnection happens: with two clusters able to start it,
    f = 1 - (1 - p)^2 per try, independently. So P(k tries, kept) = f^(k-1) (1 - f) for
    k = 1..10 and P(given up) = f^10."""
    p, n = 0.5, 3000
    f = 1 - (1 - p) ** 2
    out = run(table, {"ColourReconnection": 1, "ReconnectionProbability": p}, n)
    counts = np.zeros(11)
    for r in out:
        k = r["stage_tries"]
        if r["error"] is None:
            assert 1 <= k <= 10
            counts[k - 1] += 1
            # A kept event after retries is a full, conserving event (checked in C++).
            assert len(r["hadron_id"]) >= 2
        else:
            assert k == 10
            counts[10] += 1
    expect = n * np.append(f ** np.arange(10) * (1 - f), f**10)
    chi2 = float(((counts - expect) ** 2 / expect).sum())
    assert chi2 < 31.3, (counts, expect)  # 11 bins, 10 dof: p-value 5e-4
    assert counts[1:10].sum() > 1000  # many events kept after retries


def test_summary_counts_retries_and_replaced_events() -> None:
    s = RunSummary()
    s.add(BlockResult(0, [], None, np.array([20, 22]), {"LightClusters": 1}, 0, 0, 0.1,
                      stage_retries=7))
    s.add(BlockResult(1, [], None, np.array([18]), {}, 0, 0, 0.1, stage_retries=2))
    text = s.text()
    assert "retried (same partons): 9 tries" in text
    assert "failed (replaced)     : 1" in text
