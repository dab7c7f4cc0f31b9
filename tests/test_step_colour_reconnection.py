"""Step 4: Herwig 7.3's colour reconnection, algorithms Plain (1) and Baryonic (2, default),
with the colour-octet veto OctetTreatment Final (0) or All (1, default)."""

from __future__ import annotations

import numpy as np
import pytest
from test_step_reshuffle import minkowski_m2

from hadml import _core
from hadml.config import GeneratorConfig
from hadml.pythia_stage import PartonGenerator

PLAIN = {"ColourReconnection": 1}
BARYONIC = {"ColourReconnection": 2}


def test_herwig73_defaults() -> None:
    d = _core.default_params()
    assert d["ColourReconnection"] == 2  # Algorithm Baryonic
    assert d["OctetTreatment"] == 1  # All
    assert d["ReconnectionProbability"] == 0.95
    assert d["ReconnectionProbabilityBaryonic"] == 0.7
    assert d["StageTries"] == 10


@pytest.fixture(scope="module")
def shower_events() -> list:
    """Pythia partons with their colour history (herwig73 shower cut-off: more partons)."""
    gen = PartonGenerator(GeneratorConfig(tune="herwig73"))
    gen.reseed(41)
    return [gen.next() for _ in range(40)]


def primary_clusters(events: list) -> list[tuple[dict, dict, np.ndarray]]:
    out = []
    for k, pe in enumerate(events):
        ev = {"id": pe.id, "col": pe.col, "acol": pe.acol, "p": pe.p}
        s = _core.step_split_gluons(_core.step_reshuffle(ev), seed=k + 1)
        out.append((s, _core.step_find_clusters(s), pe.octets))
    return out


def pairs(c: dict) -> set[tuple[int, int]]:
    return set(zip(c["c1_parton"].tolist(), c["c2_parton"].tolist(), strict=True))


def baryon3(pid: np.ndarray) -> np.ndarray:
    """3 x baryon number of quarks (+-1) and diquarks (+-2)."""
    return np.sign(pid) * np.where(np.abs(pid) > 1000, 2, 1)


def test_plain_probability_one_never_increases_summed_mass(shower_events) -> None:
    n_reco_events = 0
    for k, (_, c, octets) in enumerate(primary_clusters(shower_events[:20])):
        r = _core.step_reconnect(c, {**PLAIN, "ReconnectionProbability": 1.0}, seed=k + 1,
                                 octets=octets)
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
        if changed.any():
            n_reco_events += 1
            assert after < before
    # With ~7 clusters per event, reconnections are common (Herwig: most events).
    assert n_reco_events >= 10


def test_switched_off_or_zero_probability_leaves_clusters(shower_events) -> None:
    for k, (_, c, octets) in enumerate(primary_clusters(shower_events[:5])):
        for params in ({"ColourReconnection": 0, "ReconnectionProbability": 1.0},
                       {**PLAIN, "ReconnectionProbability": 0.0},
                       {**BARYONIC, "ReconnectionProbability": 0.0,
                        "ReconnectionProbabilityBaryonic": 0.0}):
            r = _core.step_reconnect(c, params, seed=k + 1, octets=octets)
            assert pairs(r) == pairs(c)
            np.testing.assert_array_equal(r["p"], c["p"])
            assert not r["reconnected"].any()


def test_no_colour_octet_of_the_shower_history_is_formed(shower_events) -> None:
    """OctetTreatment All: no cluster may join the ends of the colour and anticolour lines
    of one gluon of Pythia's history (its (col, acol) tags); Final only knows the
    non-perturbatively split gluons."""
    n_history_vetoes = 0
    for k, (s, c, octets) in enumerate(primary_clusters(shower_events)):
        hist = set(map(tuple, octets.tolist()))
        final_gluons = {(a, b) for a, b, sp in zip(s["col"], s["acol"], s["split"],
                                                   strict=True) if sp}
        assert final_gluons <= hist  # the final gluons are part of the history
        for params in (PLAIN, BARYONIC):
            r = _core.step_reconnect(c, {**params, "ReconnectionProbability": 1.0,
                                         "ReconnectionProbabilityBaryonic": 1.0},
                                     seed=k + 1, octets=octets)
            mesonic = np.abs(r["c2_id"]) < 1000
            tags = zip(r["c1_colour"][mesonic], r["c2_colour"][mesonic], strict=True)
            assert not (set(map(tuple, np.array(list(tags)).reshape(-1, 2).tolist())) & hist)
            # Final: only the split-gluon pairs are vetoed; count history pairs it forms.
            f = _core.step_reconnect(c, {**params, "OctetTreatment": 0,
                                         "ReconnectionProbability": 1.0,
                                         "ReconnectionProbabilityBaryonic": 1.0},
                                     seed=k + 1, octets=octets)
            m = np.abs(f["c2_id"]) < 1000
            formed = set(zip(f["c1_colour"][m].tolist(), f["c2_colour"][m].tolist(),
                             strict=True))
            assert not (formed & final_gluons)
            n_history_vetoes += len(formed & hist)
    # The history veto matters: with Final, such octets do form in these events.
    assert n_history_vetoes > 0


def two_clusters(origins: tuple[int, int, int, int]) -> dict:
    """A = (q_a, qbar_a), B = (q_b, qbar_b), both at rest, all along the z axis, with
    q_a || qbar_b and q_b || qbar_a, so the swap lowers the summed mass from ~30 GeV to
    ~2 x 0.7 GeV. In A's rest frame, along A's antiquark (-z), B's quark has positive and
    its antiquark negative rapidity (and vice versa): a mesonic candidate of the Baryonic
    algorithm too. After the swap, the new clusters fly apart along +-z: each sees both
    constituents of the other at the same sign of rapidity, no candidate, so no swap back.
    Colour tags: A on line 1, B on line 2."""
    m = 0.325
    mom = np.array([[0, 0, 10.0], [0, 0, -10.0], [0, 0, -5.0], [0, 0, 5.0]])
    e = np.sqrt(m**2 + (mom**2).sum(1))
    p4 = np.column_stack([mom, e])
    return {"c1_id": np.array([2, 1], np.int32), "c2_id": np.array([-2, -1], np.int32),
            "c1_p": p4[[0, 2]], "c2_p": p4[[1, 3]], "p": p4[[0, 2]] + p4[[1, 3]],
            "c1_parton": np.array([0, 2], np.int32), "c2_parton": np.array([1, 3], np.int32),
            "c1_origin": np.array([origins[0], origins[2]], np.int32),
            "c2_origin": np.array([origins[1], origins[3]], np.int32),
            "c1_colour": np.array([1, 2], np.int32), "c2_colour": np.array([1, 2], np.int32)}


@pytest.mark.parametrize("algorithm", [PLAIN, BARYONIC])
def test_swap_and_octet_veto(algorithm: dict) -> None:
    params = {**algorithm, "ReconnectionProbability": 1.0}
    free = two_clusters((-1, -1, -1, -1))
    r = _core.step_reconnect(free, params, seed=1)
    np.testing.assert_array_equal(r["c2_parton"], [3, 1])
    assert r["mass"].sum() < 2.0 and free["p"].shape == (2, 4)
    np.testing.assert_allclose(np.sqrt(minkowski_m2(r["p"])), r["mass"])
    # Same configuration, but q_a and qbar_b (and q_b, qbar_a) come from one gluon each:
    # the swap would make colour octets and is forbidden (Final and All).
    for octet in (0, 1):
        r = _core.step_reconnect(two_clusters((7, 8, 8, 7)), {**params, "OctetTreatment": octet},
                                 seed=1)
        np.testing.assert_array_equal(r["c2_parton"], [1, 3])
        assert not r["reconnected"].any()
    # A gluon of the shower history carried colour line 1 and anticolour line 2 (then
    # radiated): (q_a, qbar_b) would be an octet. All forbids it, Final does not.
    hist = np.array([[1, 2], [5, 6]], np.int32)
    r = _core.step_reconnect(free, {**params, "OctetTreatment": 1}, seed=1, octets=hist)
    np.testing.assert_array_equal(r["c2_parton"], [1, 3])
    r = _core.step_reconnect(free, {**params, "OctetTreatment": 0}, seed=1, octets=hist)
    np.testing.assert_array_equal(r["c2_parton"], [3, 1])


@pytest.mark.parametrize("algorithm, key", [(PLAIN, "ReconnectionProbability"),
                                            (BARYONIC, "ReconnectionProbability")])
def test_mesonic_acceptance_rate_matches_probability(algorithm: dict, key: str) -> None:
    free = two_clusters((-1, -1, -1, -1))
    n, p = 4000, 0.3
    swapped = sum(
        _core.step_reconnect(free, {**algorithm, key: p}, seed=s)["reconnected"][0]
        for s in range(n))
    # Two clusters: the first visited one swaps with prob p; if not, the second tries again
    # (after a swap neither sees a partner any more), so P(swap) = 1 - (1 - p)^2.
    expect = 1 - (1 - p) ** 2
    assert abs(swapped / n - expect) < 4 * np.sqrt(expect * (1 - expect) / n)


def on_shell(mom: np.ndarray, m: float) -> np.ndarray:
    return np.column_stack([mom, np.sqrt(m**2 + (mom**2).sum(1))])


def three_clusters() -> dict:
    """Three clusters at rest, each a back-to-back (q, qbar) pair: A = (u, ubar) along
    -z/+z, B = (d, dbar) and C = (s, sbar) with their antiquarks in the upper hemisphere and
    different momenta. B's quark and C's antiquark (and C's quark and B's antiquark) come
    from one split gluon each, so B and C may not swap (colour octets)."""
    mom = np.array([[0, 0, 1.0], [0.8, 0.3, 0.8], [-1.3, 0.5, 1.3]])  # antiquarks of A, B, C
    ids = np.array([2, 1, 3], np.int32)
    m = np.array([0.325, 0.325, 0.45])[:, None]
    qbar = np.column_stack([mom, np.sqrt(m**2 + (mom**2).sum(1, keepdims=True))])
    q = qbar * np.array([-1, -1, -1, 1])
    return {"c1_id": ids, "c2_id": -ids, "c1_p": q, "c2_p": qbar, "p": q + qbar,
            "c1_parton": np.array([0, 2, 4], np.int32),
            "c2_parton": np.array([1, 3, 5], np.int32),
            "c1_origin": np.array([-1, 7, 8], np.int32),
            "c2_origin": np.array([-1, 8, 7], np.int32)}


def rapidity_along(axis: np.ndarray, p: np.ndarray) -> float:
    pz = p[:3] @ axis / np.linalg.norm(axis)
    return float(np.arctanh(pz / p[3]))


def test_three_clusters_geometry_allows_only_a_baryonic_reconnection() -> None:
    """Independent check of the construction (all clusters are at rest, so the rest frames
    coincide): seen from A, B and C each have their quark at negative and antiquark at
    positive rapidity along A's antiquark (baryonic candidates, with different rapidity
    sums); seen from B (or C), A is such a candidate and C (or B) is excluded by the octet
    veto, so B and C find one baryonic candidate each, which is not enough."""
    c = three_clusters()
    np.testing.assert_allclose(c["p"][:, :3], 0, atol=1e-15)
    y = {(i, j): (rapidity_along(c["c2_p"][i, :3], c["c1_p"][j]),
                  rapidity_along(c["c2_p"][i, :3], c["c2_p"][j]))
         for i in range(3) for j in range(3) if i != j}
    assert y[0, 1][0] < 0 < y[0, 1][1] and y[0, 2][0] < 0 < y[0, 2][1]
    assert sum(map(abs, y[0, 1])) != sum(map(abs, y[0, 2]))
    for i, j in ((1, 0), (2, 0)):
        assert y[i, j][0] < 0 < y[i, j][1]
    assert c["c1_origin"][1] == c["c2_origin"][2] and c["c1_origin"][2] == c["c2_origin"][1]


@pytest.mark.parametrize("prob", [0.7, 0.25])
def test_baryonic_reconnection_rate_and_conservation(prob: float) -> None:
    c = three_clusters()
    n = 2000
    n_baryonic = 0
    for seed in range(n):
        r = _core.step_reconnect(c, {**BARYONIC, "ReconnectionProbabilityBaryonic": prob},
                                 seed=seed)
        if len(r["p"]) == 3:  # untouched
            assert pairs(r) == pairs(c) and not r["reconnected"].any()
            continue
        n_baryonic += 1
        assert len(r["p"]) == 2 and r["reconnected"].all()
        # Colour structure: (quark, diquark) and (antidiquark, antiquark).
        assert r["c1_id"][0] > 0 and r["c2_id"][0] > 1000
        assert r["c1_id"][1] < -1000 and r["c2_id"][1] < 0
        # Baryon number +1 and -1; total 4-momentum and each cluster's sum conserved.
        b3 = baryon3(r["c1_id"]) + baryon3(r["c2_id"])
        assert b3.tolist() == [3, -3]
        np.testing.assert_allclose(r["p"].sum(0), c["p"].sum(0), atol=1e-12)
        np.testing.assert_allclose(r["p"], r["c1_p"] + r["c2_p"], atol=1e-12)
        # Every input parton is used once (the diquarks name two partons each).
        used = np.concatenate([r["c1_parton"], r["c2_parton"], r["c1_parton2"],
                               r["c2_parton2"]])
        assert sorted(used[used >= 0].tolist()) == list(range(6))
        # The quarks u, d, s form the baryonic cluster, the antiquarks the other one.
        assert {r["c1_parton"][0], r["c2_parton"][0], r["c2_parton2"][0]} == {0, 2, 4}
    # Only A can reconnect (B and C see one candidate each): P = ReconnectionProbabilityBaryonic.
    assert abs(n_baryonic / n - prob) < 4 * np.sqrt(prob * (1 - prob) / n)


def test_reduce_to_two_components_lowest_mass_pair() -> None:
    """Three light quarks: the pair of smallest invariant mass becomes the diquark (spin 0
    for different flavours, spin 1 for equal ones); three antiquarks: the antidiquark is
    the colour triplet, first."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        ids = rng.choice([1, 2, 3], size=3)
        mom = rng.normal(size=(3, 3))
        p = on_shell(mom, 0.4)
        for sign in (1, -1):
            r = _core.step_reduce_to_two_components(sign * ids, p)
            m2 = {(i, j): minkowski_m2(p[i] + p[j]) for i in range(3) for j in range(i + 1, 3)}
            i, j = min(m2, key=m2.get)
            other = ({0, 1, 2} - {i, j}).pop()
            hi, lo = max(ids[i], ids[j]), min(ids[i], ids[j])
            want = sign * (1000 * hi + 100 * lo + (3 if hi == lo else 1))
            dq, q = ("c2", "c1") if sign > 0 else ("c1", "c2")
            assert r[f"{dq}_id"][0] == want
            assert {r[f"{dq}_parton"][0], r[f"{dq}_parton2"][0]} == {i, j}
            assert r[f"{q}_parton"][0] == other and r[f"{q}_id"][0] == sign * ids[other]
            np.testing.assert_allclose(r[f"{dq}_p"][0], p[i] + p[j], atol=1e-14)
            np.testing.assert_allclose(r["p"][0], p.sum(0), atol=1e-14)


def test_reduce_to_two_components_keeps_heavy_quarks_out() -> None:
    """HeavyDiquarks NoHeavy: one heavy quark stays the single quark whatever the masses;
    of two heavy quarks one, chosen with probability 1/2, joins the light one."""
    p = on_shell(np.array([[0, 0, 1.0], [0, 0, 1.01], [0, 0, -3.0]]), 0.4)
    # u and d nearly collinear (lowest mass) -- and also with b first: same answer.
    for ids in ([2, 1, 5], [5, 2, 1], [2, 5, 1]):
        r = _core.step_reduce_to_two_components(np.array(ids), p)
        assert r["c1_id"][0] == 5 and r["c2_id"][0] == 2101
    n, n_c = 2000, 0
    for seed in range(n):
        r = _core.step_reduce_to_two_components(np.array([2, 4, 5]), p, seed=seed)
        assert r["c2_id"][0] in (4201, 5201)
        n_c += r["c2_id"][0] == 4201
    assert abs(n_c / n - 0.5) < 4 * np.sqrt(0.25 / n)
    with pytest.raises(_core.HadronizationError, match="three quarks or three antiquarks"):
        _core.step_reduce_to_two_components(np.array([2, -1, 3]), p)


def test_baryonic_clusters_in_pythia_events(shower_events) -> None:
    """Real events (Herwig 7.3 parameters): baryonic clusters occur; every output cluster is
    a colour singlet of baryon number 0 or +-1, and momentum and baryon number add up."""
    n_clusters = n_baryonic = 0
    for k, (_, c, octets) in enumerate(primary_clusters(shower_events)):
        r = _core.step_reconnect(c, {}, seed=k + 1, octets=octets)
        b3 = baryon3(r["c1_id"]) + baryon3(r["c2_id"])
        assert set(b3.tolist()) <= {0, 3, -3} and b3.sum() == 0
        np.testing.assert_allclose(r["p"].sum(0), c["p"].sum(0), rtol=0, atol=1e-10)
        n_clusters += len(c["p"])
        n_baryonic += int((b3 != 0).sum())
    # Reported rate: baryonic clusters per primary mesonic cluster before reconnection.
    rate = n_baryonic / n_clusters
    print(f"baryonic clusters: {n_baryonic} of {n_clusters} primary clusters ({rate:.3f})")
    assert n_baryonic >= 2 and rate < 0.2


def test_event_record_shows_baryonic_clusters() -> None:
    """In the event record a baryonic cluster is a vertex with three quark (or three
    antiquark) parents; their momenta add up to the cluster's."""
    import hadml
    from hadml.event import CLUSTER_PID

    run = hadml.generate(60, seed=3, tune="herwig73")
    n_baryonic = 0
    for ev in run.events:
        rows = np.flatnonzero(ev.pid == CLUSTER_PID)
        for r in rows:
            lo, hi = ev.parents[r]
            if ev.pid[lo] == CLUSTER_PID or hi - lo != 2:
                continue
            ids = ev.pid[lo:hi + 1]
            assert (np.abs(ids) <= 5).all() and len(set(np.sign(ids))) == 1
            np.testing.assert_allclose(ev.p[lo:hi + 1].sum(0), ev.p[r], atol=1e-9)
            n_baryonic += 1
    print(f"baryonic cluster vertices in 60 events: {n_baryonic}")
    assert n_baryonic >= 4
