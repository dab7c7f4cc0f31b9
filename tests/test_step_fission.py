"""Step 5: fission of heavy clusters (Herwig ClusterFissioner)."""

from __future__ import annotations

import numpy as np
import pytest
from test_step_reshuffle import boost, minkowski_m2, pythia_partons

from hadml import _core

DEFAULTS = _core.default_params()
MASS = {1: DEFAULTS["DownMass"], 2: DEFAULTS["UpMass"], 3: DEFAULTS["StrangeMass"],
        4: DEFAULTS["CharmMass"], 5: DEFAULTS["BottomMass"],
        # light diquarks: the clusters of baryonic colour reconnection hold them
        **dict.fromkeys((1103, 2101, 2103, 2203), DEFAULTS["DiquarkLightMass"]),
        **dict.fromkeys((3101, 3103, 3201, 3203), DEFAULTS["DiquarkStrangeMass"]),
        3303: DEFAULTS["DiquarkSSMass"]}
CHI2_999_19 = 43.820  # upper 0.1% quantile of chi2 with 19 degrees of freedom


def cluster_copies(n: int, M: float, q: int = 2, qbar: int = -1,
                   beta=(0.3, -0.2, 0.5)) -> dict:
    """n identical q qbar clusters of mass M, constituents along +-x in the rest frame."""
    m1, m2 = MASS[abs(q)], MASS[abs(qbar)]
    ps = np.sqrt((M**2 - (m1 + m2) ** 2) * (M**2 - (m1 - m2) ** 2)) / (2 * M)
    p1 = np.array([[ps, 0, 0, np.hypot(ps, m1)]])
    p2 = np.array([[-ps, 0, 0, np.hypot(ps, m2)]])
    b = np.asarray(beta)
    p1, p2 = boost(p1, b), boost(p2, b)
    return {"c1_id": np.full(n, q, np.int32), "c2_id": np.full(n, qbar, np.int32),
            "c1_p": np.repeat(p1, n, 0), "c2_p": np.repeat(p2, n, 0),
            "c1_pert": np.ones(n, bool), "c2_pert": np.zeros(n, bool),
            "c1_parton": np.zeros(n, np.int32), "c2_parton": np.ones(n, np.int32),
            "p": np.repeat(p1 + p2, n, 0)}


def pythia_clusters(n_events: int, seed: int) -> list[dict]:
    out = []
    for k, ev in enumerate(pythia_partons(n_events, seed=seed)):
        s = _core.step_split_gluons(_core.step_reshuffle(ev), seed=k + 1)
        out.append(_core.step_reconnect(_core.step_find_clusters(s), seed=k + 1))
    return out


def cmass(pid: np.ndarray) -> np.ndarray:
    return np.array([MASS[abs(int(i))] for i in pid])


def flavour_params(c1: int, c2: int) -> tuple[float, float]:
    ids = {abs(c1), abs(c2)}
    name = "Bottom" if 5 in ids else "Charm" if 4 in ids else "Light"
    return DEFAULTS[f"ClMax{name}"], DEFAULTS[f"ClPow{name}"]


def check_fissions(f: dict, n_in: int, dynamic: bool) -> int:
    """Checks every fission in the output; returns how many there were."""
    parents = np.flatnonzero(f["fate"] == 1)
    shift = DEFAULTS["KinematicThresholdShift"]
    for i in parents:
        a, b = f["children"][i]
        assert a >= n_in and b == a + 1 and f["parent"][a] == i and f["parent"][b] == i
        M, M1, M2 = f["mass"][i], f["mass"][a], f["mass"][b]
        scale = f["p"][i, 3]
        # Conservation per fission, and cluster = sum of its constituents.
        np.testing.assert_allclose(f["p"][a] + f["p"][b], f["p"][i], rtol=0, atol=1e-12 * scale)
        for j in (a, b):
            np.testing.assert_allclose(f["c1_p"][j] + f["c2_p"][j], f["p"][j], rtol=0,
                                       atol=1e-13 * scale)
            for k in ("c1", "c2"):
                m = MASS[abs(int(f[f"{k}_id"][j]))]
                assert abs(minkowski_m2(f[f"{k}_p"][j]) - m**2) < 1e-12 * scale**2
        # Flavours: C(Q1 Q2) -> (Q1 qbar) + (q Q2); originals keep their flags and indices.
        q = int(f["c1_id"][b])
        assert q in (1, 2, 3) and f["c2_id"][a] == -q
        assert f["c1_id"][a] == f["c1_id"][i] and f["c2_id"][b] == f["c2_id"][i]
        assert f["c1_pert"][a] == f["c1_pert"][i] and f["c2_pert"][b] == f["c2_pert"][i]
        assert f["c1_parton"][a] == f["c1_parton"][i] and f["c2_parton"][b] == f["c2_parton"][i]
        assert f["c2_parton"][a] == -1 and f["c1_parton"][b] == -1
        assert not f["c2_pert"][a] and not f["c1_pert"][b]
        # Mass limits of ClusterFissioner::cutTwo.
        m1, m2, m = MASS[abs(int(f["c1_id"][i]))], MASS[abs(int(f["c2_id"][i]))], MASS[q]
        assert M1 + M2 <= M * (1 + 1e-12)
        assert M1 >= m1 + m - 1e-9 and M2 >= m2 + m - 1e-9
        if dynamic:
            assert M1**2 >= m1**2 + m**2 + shift - 1e-9
            assert M2**2 >= m2**2 + m**2 + shift - 1e-9
            assert M1**2 + M2**2 <= M**2 * (1 + 1e-12)
        # Children back to back along the original Q1 direction in the parent frame.
        beta = f["p"][i, :3] / f["p"][i, 3]
        u = boost(f["c1_p"][i][None], -beta)[0, :3]
        for j, sign in ((a, 1.0), (f["children"][i][1], -1.0)):
            v = boost(f["p"][j][None], -beta)[0, :3]
            assert sign * (u @ v) / np.linalg.norm(u) / np.linalg.norm(v) > 1 - 1e-9
    return len(parents)


def test_child_mass_distribution_power_law() -> None:
    # Static threshold and only u/d popped (both 0.325 GeV): the accepted child masses follow
    # f(x1) F(S - x1), x = M_i - m_i, (x)^P flat on [m, A], S = M - m1 - m2, A = S - m.
    n, M = 20000, 15.0
    params = {"DynamicThreshold": 0, "FissionPwtSquark": 0.0}
    f = _core.step_fission(cluster_copies(n, M), params, seed=5)
    assert (f["fate"][:n] == 1).all()
    P = DEFAULTS["PSplitLight"]
    m1 = m2 = m = 0.325
    S = M - m1 - m2
    A = S - m
    def cdf(y):
        return np.clip((np.clip(y, m, None) ** P - m**P) / (A**P - m**P), 0.0, 1.0)
    edges = np.linspace(m, A, 21)
    fine = np.linspace(m, A, 20 * 2000 + 1)
    mid = 0.5 * (fine[1:] + fine[:-1])
    dens = P * mid ** (P - 1) / (A**P - m**P) * cdf(S - mid) * np.diff(fine)
    expected = dens.reshape(20, -1).sum(1)
    expected *= n / expected.sum()
    for k, mk in ((0, m1), (1, m2)):
        kids = f["children"][:n, k]
        x = f["mass"][kids] - mk
        counts, _ = np.histogram(x, bins=edges)
        assert counts.sum() == n
        chi2 = ((counts - expected) ** 2 / expected).sum()
        assert chi2 < CHI2_999_19, (counts, expected.round(1))


def test_dynamic_default_limits_and_conservation() -> None:
    total = 0
    for k, c in enumerate(pythia_clusters(10, seed=51)):
        n = len(c["c1_id"])
        f = _core.step_fission(c, seed=k + 1)
        total += check_fissions(f, n, dynamic=True)
        act = f["fate"] == 0
        np.testing.assert_allclose(f["p"][act].sum(0), c["p"].sum(0), rtol=0, atol=1e-10)
    heavy = cluster_copies(200, 30.0)
    f = _core.step_fission(heavy, seed=3)
    assert (f["fate"][:200] == 1).all()
    total += check_fissions(f, 200, dynamic=True)
    assert total > 200


def test_static_threshold_leaves_no_heavy_cluster() -> None:
    params = {"DynamicThreshold": 0}
    clusters = pythia_clusters(10, seed=53) + [cluster_copies(50, 40.0, 4, -4),
                                               cluster_copies(50, 40.0, 5, -1)]
    for k, c in enumerate(clusters):
        n = len(c["c1_id"])
        f = _core.step_fission(c, params, seed=k + 1)
        check_fissions(f, n, dynamic=False)
        for j in np.flatnonzero(f["fate"] == 0):
            cmax, cpow = flavour_params(f["c1_id"][j], f["c2_id"][j])
            msum = MASS[abs(int(f["c1_id"][j]))] + MASS[abs(int(f["c2_id"][j]))]
            M = f["mass"][j]
            heavy = M**cpow > cmax**cpow + msum**cpow and M > msum + 2 * DEFAULTS["DownMass"]
            assert not heavy, (f["c1_id"][j], f["c2_id"][j], M)


def test_unsplittable_cluster_left_after_max_tries() -> None:
    # Passes the static test (ClMax tiny, M > m1 + m2 + 2 m_d) but only s sbar may be popped
    # and M < m1 + m2 + 2 m_s: every try fails, so Herwig leaves the cluster unsplit.
    params = {"DynamicThreshold": 0, "ClMaxLight": 0.1, "FissionPwtUquark": 0.0,
              "FissionPwtDquark": 0.0, "FissionMaxTries": 50}
    c = cluster_copies(3, 1.4)
    f = _core.step_fission(c, params, seed=1)
    assert len(f["c1_id"]) == 3
    assert (f["fate"] == 0).all() and (f["children"] == -1).all()
    np.testing.assert_array_equal(f["p"], c["p"])


def test_reject_unknown_parameter() -> None:
    with pytest.raises(ValueError, match="unknown cluster parameter"):
        _core.step_fission(cluster_copies(1, 5.0), {"ClMaxLite": 3.0})


@pytest.fixture(scope="module")
def spectrum() -> _core.HadronSpectrum:
    from hadml.hadrons import hadron_table

    return _core.HadronSpectrum(DEFAULTS, hadron_table())


def test_children_below_threshold_become_hadrons(spectrum: _core.HadronSpectrum) -> None:
    """1d, ClusterFissioner::cutTwo with BelowThreshold All: no fission child is left as a
    cluster below its two-hadron threshold; such a child is one hadron of its flavours, at
    its nominal mass, and every fission still conserves 4-momentum."""
    made = 0
    # light children lie above their pi pi threshold (the dynamic threshold asks for
    # M_i > 0.55 GeV), so hadrons come from s sbar children below K Kbar (0.99 GeV) and the
    # like: a few percent of the fissions of a 5 GeV s sbar cluster
    clusters = pythia_clusters(6, seed=57) + [cluster_copies(2000, 5.0, 3, -3), cluster_copies(
        200, 6.0, 4, -3)]
    for k, c in enumerate(clusters):
        n = len(c["c1_id"])
        f = _core.step_fission_hadrons(c, spectrum, seed=k + 1)
        hid, hp, hcl = f["hadron_id"], f["hadron_p"], f["hadron_cluster"]
        for j in range(n, len(f["c1_id"])):
            q1, q2 = int(f["c1_id"][j]), int(f["c2_id"][j])
            if f["fate"][j] == 0:
                assert f["mass"][j] >= spectrum.lightest_pair_mass(q1, q2)
                continue
            assert f["fate"][j] in (1, 2)
            if f["fate"][j] == 2:
                h = f["children"][j][0]
                assert hcl[h] == j
                np.testing.assert_array_equal(hp[h], f["p"][j])
                assert abs(np.sqrt(minkowski_m2(hp[h])) - spectrum.mass(int(hid[h]))) < 1e-9
                assert int(hid[h]) in dict(spectrum.single_hadrons(q1, q2))
                assert f["mass"][j] < spectrum.lightest_pair_mass(q1, q2)
                made += 1
        for i in np.flatnonzero(f["fate"] == 1):
            a, b = f["children"][i]
            scale = f["p"][i, 3]
            np.testing.assert_allclose(f["p"][a] + f["p"][b], f["p"][i], rtol=0,
                                       atol=1e-12 * scale)
        final = np.isin(f["fate"], (0, 2))
        np.testing.assert_allclose(f["p"][final].sum(0), c["p"].sum(0), rtol=0,
                                   atol=1e-10 * c["p"][:, 3].sum())
    assert made > 40, made
    # BelowThreshold Lightest: hadml's earlier fission, children left to step 6
    lightest = _core.HadronSpectrum({**DEFAULTS, "BelowThreshold": 0}, spectrum_table())
    f = _core.step_fission_hadrons(cluster_copies(300, 3.0), lightest, seed=1)
    g = _core.step_fission(cluster_copies(300, 3.0), seed=1)
    assert f["hadron_id"].size == 0
    np.testing.assert_array_equal(f["p"], g["p"])


def spectrum_table() -> dict:
    from hadml.hadrons import hadron_table

    return hadron_table()


def test_fission_pt_sigma_zero_is_herwig() -> None:
    """FissionPtSigma = 0 (the herwig73 value) is Herwig 7.3's collinear fission, byte for
    byte: the same random numbers, the same clusters."""
    c = cluster_copies(300, 20.0)
    g = _core.step_fission(c, seed=4)
    f = _core.step_fission(c, {"FissionPtSigma": 0.0}, seed=4)
    for k in g:
        np.testing.assert_array_equal(f[k], g[k])
    check_fissions(f, 300, dynamic=True)


def test_fission_pt_sigma_kick_distribution() -> None:
    """FissionPtSigma = s: in the parent frame child 1 has transverse momentum k_T to the
    parent's constituent axis, child 2 -k_T, with k_T^2 exponential of mean s^2 truncated
    at the children's two-body momentum p*. Independent check: per first fission,
    U = (1 - exp(-k_T^2/s^2)) / (1 - exp(-p*^2/s^2)) is uniform on [0, 1] (probability
    integral transform), and the azimuth of k_T around the axis is uniform."""
    n, M, s = 6000, 12.0, 0.6
    c = cluster_copies(n, M, beta=(0.0, 0.0, 0.0))  # parent at rest, axis along +x
    f = _core.step_fission(c, {"FissionPtSigma": s, "DynamicThreshold": 0}, seed=9)
    assert (f["fate"][:n] == 1).all()
    a, b = f["children"][:n, 0], f["children"][:n, 1]
    p1, p2 = f["p"][a], f["p"][b]
    np.testing.assert_allclose(p1 + p2, f["p"][:n], rtol=0, atol=1e-12 * M)
    M1, M2 = f["mass"][a], f["mass"][b]
    pstar = np.sqrt((M**2 - (M1 + M2) ** 2) * (M**2 - (M1 - M2) ** 2)) / (2 * M)
    np.testing.assert_allclose(np.linalg.norm(p1[:, :3], axis=1), pstar, rtol=1e-9)
    kt2 = p1[:, 1] ** 2 + p1[:, 2] ** 2
    np.testing.assert_allclose(p2[:, 1:3], -p1[:, 1:3], rtol=0, atol=1e-12 * M)
    assert (p1[:, 0] > 0).all()  # child 1 stays in Q1's hemisphere
    u = -np.expm1(-kt2 / s**2) / -np.expm1(-pstar**2 / s**2)
    counts, _ = np.histogram(u, bins=20, range=(0.0, 1.0))
    expected = n / 20
    assert ((counts - expected) ** 2 / expected).sum() < CHI2_999_19, counts
    phi = np.arctan2(p1[:, 2], p1[:, 1])
    counts, _ = np.histogram(phi, bins=20, range=(-np.pi, np.pi))
    assert ((counts - expected) ** 2 / expected).sum() < CHI2_999_19, counts
    # <k_T^2> close to s^2 (p* of a few GeV hardly truncates a 0.6 GeV width)
    assert abs(kt2.mean() / s**2 - 1) < 0.05, kt2.mean()
    # The constituents of each child still sum to the child.
    for j in (a, b):
        np.testing.assert_allclose(f["c1_p"][j] + f["c2_p"][j], f["p"][j], rtol=0,
                                   atol=1e-12 * M)


def test_fission_pt_sigma_rejected_when_negative() -> None:
    with pytest.raises(ValueError, match="FissionPtSigma"):
        _core.step_fission(cluster_copies(1, 5.0), {"FissionPtSigma": -0.1})


# --- FissionMassSampler (hadml option after the MassSampler of later Herwig versions) ---

def first_children(f: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Masses of the two children of each of the n input clusters (all must fission)."""
    assert (f["fate"][:n] == 1).all()
    return f["mass"][f["children"][:n, 0]], f["mass"][f["children"][:n, 1]]


def phase_space_density(M: float, m1: float, m2: float, m: float, n_grid: int = 1200):
    """An independent tabulation of the phase-space sampler's density on a fine (M1, M2)
    grid: w = p*(M; M1, M2) p*(M1; m1, m) p*(M2; m2, m) on M_i >= m_i + m, M1 + M2 <= M
    (recursive two-body phase space, PDG kinematics review). Returns grid centres and w."""
    def pstar(P, a, b):
        lam = (P**2 - (a + b) ** 2) * (P**2 - (a - b) ** 2)
        return np.sqrt(np.clip(lam, 0.0, None)) / (2 * P)
    room = M - m1 - m2 - 2 * m
    e = (np.arange(n_grid) + 0.5) / n_grid * room
    M1, M2 = np.meshgrid(m1 + m + e, m2 + m + e, indexing="ij")
    w = np.where(M1 + M2 <= M, pstar(M, M1, M2) * pstar(M1, m1, m) * pstar(M2, m2, m), 0.0)
    return M1, M2, w


def chi2_against(x: np.ndarray, grid_x: np.ndarray, w: np.ndarray, edges: np.ndarray) -> float:
    """chi2 of the histogram of x against the grid density w binned on the same edges."""
    expected, _ = np.histogram(grid_x.ravel(), bins=edges, weights=w.ravel())
    expected *= x.size / expected.sum()
    counts, _ = np.histogram(x, bins=edges)
    assert counts.sum() == x.size
    return float(((counts - expected) ** 2 / expected).sum())


def test_mass_sampler_power_is_herwig() -> None:
    """FissionMassSampler 0 (the herwig73 value) is the default fission, byte for byte."""
    c = cluster_copies(300, 20.0)
    g = _core.step_fission(c, seed=4)
    f = _core.step_fission(c, {"FissionMassSampler": 0}, seed=4)
    for k in g:
        np.testing.assert_array_equal(f[k], g[k])
    assert DEFAULTS["FissionMassSampler"] == 0


def test_mass_sampler_uniform_triangle() -> None:
    """FissionMassSampler 1: (M1, M2) uniform on the triangle y1, y2 >= 0, y1 + y2 <= D
    (y_i = M_i - m_i - m, D = M - m1 - m2 - 2m). Analytic marginals: y1/D and y2/D have
    density 2(1 - t), so (1 - t)^2 is uniform; (y1 + y2)/D has density 2s, so s^2 is."""
    n, M = 20000, 15.0
    params = {"DynamicThreshold": 0, "FissionPwtSquark": 0.0, "FissionMassSampler": 1}
    M1, M2 = first_children(_core.step_fission(cluster_copies(n, M), params, seed=6), n)
    m = 0.325
    D = M - 4 * m
    t1, t2 = (M1 - 2 * m) / D, (M2 - 2 * m) / D
    assert t1.min() >= 0 and t2.min() >= 0 and (t1 + t2).max() <= 1 + 1e-12
    expected = n / 20
    for u in ((1 - t1) ** 2, (1 - t2) ** 2, (t1 + t2) ** 2):
        counts, _ = np.histogram(u, bins=20, range=(0.0, 1.0))
        assert ((counts - expected) ** 2 / expected).sum() < CHI2_999_19, counts
    # Uncorrelated apart from the triangle: E[t1 t2] = 1/12 for the uniform triangle.
    assert abs((t1 * t2).mean() - 1 / 12) < 4 * (t1 * t2).std() / np.sqrt(n)


@pytest.mark.parametrize(("M", "q", "qbar", "extra"), [
    (15.0, 2, -1, {}),
    # b quark and light antiquark (m1 = 5 GeV): unequal masses; ClMaxBottom 0.3 makes the
    # 10 GeV cluster heavy under the static threshold.
    (10.0, 5, -1, {"ClMaxBottom": 0.3}),
])
def test_mass_sampler_phase_space_density(M: float, q: int, qbar: int, extra: dict) -> None:
    """FissionMassSampler 2: the child masses follow the tabulated phase-space density
    (M1, M2 and M1 + M2 marginals, chi2 of 20 bins below the 0.1% quantile), and the
    uniform sampler's masses fail that test (it has power)."""
    n = 20000
    params = {"DynamicThreshold": 0, "FissionPwtSquark": 0.0, **extra}
    c = cluster_copies(n, M, q, qbar)
    m1, m2, m = MASS[q], MASS[-qbar], 0.325
    G1, G2, w = phase_space_density(M, m1, m2, m)
    e1 = np.linspace(m1 + m, M - m2 - m, 21)
    e2 = np.linspace(m2 + m, M - m1 - m, 21)
    es = np.linspace(m1 + m2 + 2 * m, M, 21)
    M1, M2 = first_children(_core.step_fission(c, {**params, "FissionMassSampler": 2},
                                                seed=7), n)
    chi2 = [chi2_against(M1, G1, w, e1), chi2_against(M2, G2, w, e2),
            chi2_against(M1 + M2, G1 + G2, w, es)]
    assert max(chi2) < CHI2_999_19, chi2
    # The same check on uniform draws fails by far.
    U1, U2 = first_children(_core.step_fission(c, {**params, "FissionMassSampler": 1},
                                                seed=7), n)
    assert chi2_against(U1 + U2, G1 + G2, w, es) > 10 * CHI2_999_19
    # Mean of M1 from the table, within 4 standard errors.
    mean = (G1 * w).sum() / w.sum()
    assert abs(M1.mean() - mean) < 4 * M1.std() / np.sqrt(n), (M1.mean(), mean)


def test_mass_sampler_keeps_conservation_and_limits() -> None:
    """Every fission with the other samplers still conserves momentum, keeps constituents
    on shell and the dynamic threshold's mass limits (real showered events)."""
    events = pythia_clusters(5, seed=11)
    for sampler in (1, 2):
        total = 0
        for ev in events:
            f = _core.step_fission(ev, {"FissionMassSampler": sampler}, seed=2)
            total += check_fissions(f, len(ev["c1_id"]), dynamic=True)
            act = f["fate"] == 0
            np.testing.assert_allclose(f["p"][act].sum(0), ev["p"].sum(0), rtol=0, atol=1e-10)
        assert total >= 10, total


def test_mass_sampler_rejects_unknown_value() -> None:
    for bad in (3, -1):
        with pytest.raises(ValueError, match="FissionMassSampler"):
            _core.step_fission(cluster_copies(1, 5.0), {"FissionMassSampler": bad})
    with pytest.raises(ValueError, match="FissionMassSampler.*integer"):
        _core.step_fission(cluster_copies(1, 5.0), {"FissionMassSampler": 1.5})
