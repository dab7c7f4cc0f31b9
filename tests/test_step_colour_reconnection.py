"""Step 4: Herwig's Plain colour reconnection."""

from __future__ import annotations

import numpy as np
from test_step_reshuffle import minkowski_m2, pythia_partons

from hadml import _core


def primary_clusters(n_events: int, seed: int) -> list[dict]:
    out = []
    for k, ev in enumerate(pythia_partons(n_events, seed=seed)):
        s = _core.step_split_gluons(_core.step_reshuffle(ev), seed=k + 1)
        out.append(_core.step_find_clusters(s))
    return out


def pairs(c: dict) -> set[tuple[int, int]]:
    return set(zip(c["c1_parton"].tolist(), c["c2_parton"].tolist(), strict=True))


def test_probability_one_never_increases_summed_mass() -> None:
    n_reco_events = 0
    for k, c in enumerate(primary_clusters(20, seed=41)):
        r = _core.step_reconnect(c, {"ReconnectionProbability": 1.0}, seed=k + 1)
        before, after = c["mass"].sum(), r["mass"].sum()
        assert after <= before + 1e-12
        # Triplets keep their places; only antitriplets are exchanged.
        np.testing.assert_array_equal(r["c1_parton"], c["c1_parton"])
        np.testing.assert_array_equal(np.sort(r["c2_parton"]), np.sort(c["c2_parton"]))
        np.testing.assert_allclose(r["p"], r["c1_p"] + r["c2_p"], rtol=0, atol=1e-13)
        np.testing.assert_allclose(r["p"].sum(0), c["p"].sum(0), rtol=0, atol=1e-11)
        changed = r["c2_parton"] != c["c2_parton"]
        # A cluster may swap twice and get its partner back, so `reconnected` can be set
        # on an unchanged pair, but every changed pair must carry the flag.
        assert r["reconnected"][changed].all()
        # No colour-octet cluster (q and qbar of one split gluon).
        assert not ((r["c1_origin"] >= 0) & (r["c1_origin"] == r["c2_origin"])).any()
        if changed.any():
            n_reco_events += 1
            assert after < before
    # With ~8 clusters per event, reconnections are common (Herwig: most events).
    assert n_reco_events >= 10


def test_switched_off_or_zero_probability_leaves_clusters() -> None:
    for k, c in enumerate(primary_clusters(5, seed=43)):
        for params in ({"ColourReconnection": 0, "ReconnectionProbability": 1.0},
                       {"ReconnectionProbability": 0.0}):
            r = _core.step_reconnect(c, params, seed=k + 1)
            assert pairs(r) == pairs(c)
            np.testing.assert_array_equal(r["p"], c["p"])
            assert not r["reconnected"].any()


def two_clusters(origins: tuple[int, int, int, int]) -> dict:
    """A = (q_a, qbar_a), B = (q_b, qbar_b) with q_a || qbar_b and q_b || qbar_a, so the swap
    lowers the summed mass from ~2 x 20 GeV to ~2 x 0.65 GeV."""
    m = 0.325
    mom = np.array([[0, 0, 10.0], [0, 0, -10.0], [0, 0.1, -10.0], [0, 0.1, 10.0]])
    e = np.sqrt(m**2 + (mom**2).sum(1))
    p4 = np.column_stack([mom, e])
    return {"c1_id": np.array([2, 1], np.int32), "c2_id": np.array([-2, -1], np.int32),
            "c1_p": p4[[0, 2]], "c2_p": p4[[1, 3]], "p": p4[[0, 2]] + p4[[1, 3]],
            "c1_parton": np.array([0, 2], np.int32), "c2_parton": np.array([1, 3], np.int32),
            "c1_origin": np.array([origins[0], origins[2]], np.int32),
            "c2_origin": np.array([origins[1], origins[3]], np.int32)}


def test_swap_and_octet_veto() -> None:
    free = two_clusters((-1, -1, -1, -1))
    r = _core.step_reconnect(free, {"ReconnectionProbability": 1.0}, seed=1)
    np.testing.assert_array_equal(r["c2_parton"], [3, 1])
    assert r["mass"].sum() < 2.0 and free["p"].shape == (2, 4)
    np.testing.assert_allclose(np.sqrt(minkowski_m2(r["p"])), r["mass"])
    # Same configuration, but q_a and qbar_b (and q_b, qbar_a) come from one gluon each:
    # the swap would make colour octets and is forbidden.
    octet = two_clusters((7, 8, 8, 7))
    r = _core.step_reconnect(octet, {"ReconnectionProbability": 1.0}, seed=1)
    np.testing.assert_array_equal(r["c2_parton"], [1, 3])
    assert not r["reconnected"].any()


def test_acceptance_rate_matches_probability() -> None:
    free = two_clusters((-1, -1, -1, -1))
    n, p = 4000, 0.3
    swapped = sum(
        _core.step_reconnect(free, {"ReconnectionProbability": p}, seed=s)["reconnected"][0]
        for s in range(n))
    # Two clusters: the first visited one swaps with prob p; if not, the second tries again,
    # so P(swap) = 1 - (1 - p)^2.
    expect = 1 - (1 - p) ** 2
    assert abs(swapped / n - expect) < 4 * np.sqrt(expect * (1 - expect) / n)
