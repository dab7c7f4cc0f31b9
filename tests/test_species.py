"""Herwig "Hwpp" species selection: frequencies, conservation laws, closed channels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hadml import _core

PARAMS = _core.default_params()



def pstar(M: float, m1: float, m2: float) -> float:
    return math.sqrt((M * M - (m1 + m2) ** 2) * (M * M - (m1 - m2) ** 2)) / (2 * M)


def herwig_selects(pid: int) -> bool:
    """Herwig 7.3's hadron table on Pythia's hadrons, written from Decays.in's Forbidden
    list and HadronSelector::constructHadronTable: no K0_S/K0_L, sigma, kappa; every
    other meson; baryons only in their ground-state multiplets (Herwig forbids every
    excited baryon it defines) and not triply heavy."""
    if pid in (130, 310, 9000221, 9000311, 9000321):
        return False
    d = pid % 10000
    n1, n2, n3, nj = d // 1000, (d // 100) % 10, (d // 10) % 10, d % 10
    if n1 == 0:
        return True
    if pid >= 10000 or nj not in (2, 4) or sum(f >= 4 for f in (n1, n2, n3)) == 3:
        return False
    return nj == 2 or n1 >= n2 >= n3


def isoscalar_light_weight(pid: int) -> float:
    """Probability of u ubar (= of d dbar) in an I = 0 meson, Herwig's mixingStateWeight:
    0.5 cos^2(theta + atan sqrt2) for the s sbar-like member of a nonet, 0.5 sin^2 for
    the other; EtaMixAngle, PhiMixAngle, 26 deg (f2), ideal for the other nonets, 1/3 for
    a meson in no listed pair."""
    ideal = math.degrees(math.atan(math.sqrt(0.5)))
    angle = {221: PARAMS["EtaMixAngle"], 331: PARAMS["EtaMixAngle"],
             333: PARAMS["PhiMixAngle"], 223: PARAMS["PhiMixAngle"], 335: 26.0, 225: 26.0}
    strange_like = {221, 333, 335, 10333, 10331, 20333, 10335, 30333, 100331, 100333}
    partner = {331, 223, 225, 10223, 10221, 20223, 10225, 30223, 100221, 100223}
    if pid not in strange_like | partner:
        return 1 / 3
    x = math.radians(angle.get(pid, ideal)) + math.atan(math.sqrt(2))
    return 0.5 * (math.cos(x) ** 2 if pid in strange_like else math.sin(x) ** 2)


def meson_weights(table: dict, q: int, qb: int) -> dict[int, float]:
    """(2J+1) x mixing for mesons made of quark q and antiquark qb, written independently."""
    out: dict[int, float] = {}
    for pid, spin in zip(table["id"].tolist(), table["spin_multiplicity"].tolist(),
                         strict=True):
        d = pid % 10000
        n1, n2, n3 = d // 1000, (d // 100) % 10, (d // 10) % 10
        if n1 != 0 or not herwig_selects(pid):
            continue
        if q == qb and n2 == n3:
            if n2 >= 4:
                mix = 1.0 if q == n2 else 0.0
            elif q >= 4:
                mix = 0.0
            elif n2 == 1:
                mix = 0.5 if q <= 2 else 0.0
            else:
                w = isoscalar_light_weight(pid)
                mix = w if q <= 2 else 1 - 2 * w
            if mix > 1e-12:
                out[pid] = spin * mix
        elif q != qb and {n2, n3} == {q, qb} and n2 > n3:
            holds_quark = n2 % 2 == 0
            pos = (q == n2) if holds_quark else (qb == n2)
            out[pid if pos else -pid] = float(spin)
    return out


def baryon_weight(pid: int, squared: bool) -> float:
    """(2J+1) x HwppSelector::baryonWeight for a baryon code (x 1.5 for qqq decuplets)."""
    d = pid % 10000
    n1, n2, n3, nj = d // 1000, (d // 100) % 10, (d // 10) % 10, d % 10
    sng, dec = PARAMS["SngWt"], PARAMS["DecWt"]
    if nj == 4:
        return 4 * (dec**2 * (1.5 if n1 == n2 == n3 else 1.0) if squared else dec)
    if n2 < n3:
        return 2 * (sng**2 if squared else sng)
    return 2.0


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


def test_table_rules(table: dict) -> None:
    """1b: which of Pythia's hadrons take part, for both HadronTable values."""
    herwig = _core.HadronSpectrum(PARAMS, table)
    lowest = _core.HadronSpectrum({**PARAMS, "HadronTable": 0}, table)
    ids = table["id"].tolist()
    assert [herwig.selects(i) for i in ids] == [herwig_selects(i) for i in ids]
    # radial/orbital excitations and the scalars at 980 MeV take part; sigma, Lambda(1520)
    # and Lambda_c(2625) do not
    for pid in (9010221, 9000111, 9000211, 100211, 100113, 30113, 10221, 2224, 3334, 4122):
        assert herwig.selects(pid), pid
    for pid in (9000221, 102134, 102132, 4124, 202212, 4444):
        assert not herwig.selects(pid), pid
    assert lowest.selects(4124) and lowest.selects(113)
    assert not any(lowest.selects(p) for p in (9010221, 9000111, 100211, 30113, 102134))
    # the s sbar table: eta, eta', f0(980) (1/3), phi, h1(1380), f'2 ... weights by hand
    expected = meson_weights(table, 3, 3)
    got = dict(herwig.single_hadrons(3, -3))
    assert got.keys() == expected.keys()
    for pid, w in expected.items():
        assert got[pid] == pytest.approx(w, rel=1e-12), pid
    assert got[9010221] == pytest.approx(1 / 3, rel=1e-12)


@pytest.mark.parametrize("squared", [True, False])
def test_baryon_pair_weights(table: dict, squared: bool) -> None:
    """1c: baryon-antibaryon channels of a u ubar cluster, weights Pwt(qq) w(B) w(Bbar) p*
    with w from HwppSelector::baryonWeight (SngWt^2, DecWt^2, 1.5 for qqq) or linear."""
    params = {**PARAMS, "SelectorWeights": int(squared)}
    spec = _core.HadronSpectrum(params, table)
    M = 3.0
    mass = dict(zip(table["id"].tolist(), table["mass"].tolist(), strict=True))
    pu, pd_, ps = PARAMS["PwtUquark"], PARAMS["PwtDquark"], PARAMS["PwtSquark"]
    diquarks = {(2, 2): pu * pu, (2, 1): 0.5 * pu * pd_, (1, 1): pd_ * pd_,
                (3, 2): 0.5 * ps * pu, (3, 1): 0.5 * ps * pd_, (3, 3): ps * ps}

    def baryons(flavours: list[int]) -> list[int]:
        want = sorted(flavours)
        out = []
        for pid in table["id"].tolist():
            d = pid % 10000
            digits = sorted([d // 1000, (d // 100) % 10, (d // 10) % 10])
            if d // 1000 and herwig_selects(pid) and digits == want:
                out.append(pid)
        return out

    expected: dict[tuple[int, int], float] = {}
    for (a, b), pw in diquarks.items():
        for h1 in baryons([2, a, b]):          # (u, diquark ab)
            for h2 in baryons([2, a, b]):      # (anti-diquark, ubar) -> antibaryon
                m1, m2 = mass[h1], mass[h2]
                if M > m1 + m2:
                    expected[(h1, -h2)] = (pw * baryon_weight(h1, squared)
                                           * baryon_weight(h2, squared) * pstar(M, m1, m2))
    n = 300_000
    h1, h2 = spec.sample_pairs(M, 2, -2, n, 11)
    is_b = (np.abs(h1) % 10000) // 1000 > 0
    pairs, counts = np.unique(np.stack([h1[is_b], h2[is_b]], 1), axis=0, return_counts=True)
    got = {(int(a), int(b)): int(c) for (a, b), c in zip(pairs, counts, strict=True)}
    assert set(got) <= set(expected)
    nb, tot = int(is_b.sum()), sum(expected.values())
    chi2, ndf = 0.0, -1
    for k, w in expected.items():
        mu = nb * w / tot
        if mu > 20:
            chi2 += (got.get(k, 0) - mu) ** 2 / mu
            ndf += 1
    assert ndf >= 10
    assert chi2 < ndf + 5 * math.sqrt(2 * ndf), (chi2, ndf)
    # Delta++ Delta++bar, the qqq factor squared: 1.5^2 relative to the linear weights
    frac = got.get((2224, -2224), 0) / nb
    assert frac == pytest.approx(nb * expected[(2224, -2224)] / tot / nb, rel=0.1)


@pytest.mark.parametrize("mode", ["All", "Lightest"])
def test_below_threshold_choice(table: dict, mode: str) -> None:
    """1d: an (s, ud) cluster below K- p becomes Lambda, Sigma0 or Sigma*0 in proportion to
    2 SngWt^2 : 2 : 4 DecWt^2 (All), or always Lambda (Lightest); an s sbar cluster below
    K+ K- becomes eta, omega or eta' in proportion to their s sbar weights."""
    spec = _core.HadronSpectrum({**PARAMS, "BelowThreshold": int(mode == "All")}, table)
    n = 100_000
    mass = dict(zip(table["id"].tolist(), table["mass"].tolist(), strict=True))
    kk = mass[321] * 2
    assert spec.lightest_pair_mass(3, -3) == pytest.approx(kk, rel=1e-12)
    assert spec.lightest_pair_mass(3, 2101) == pytest.approx(mass[321] + mass[2212], rel=1e-12)
    assert (spec.sample_single_hadrons(1.5, 3, 2101, 10, 1) == 0).all()  # above: no hadron
    s_sbar = {p: w for p, w in meson_weights(table, 3, 3).items() if mass[p] < kk}
    assert set(s_sbar) == {221, 223, 331}
    chi2_999 = {1: 10.83, 2: 13.82, 3: 16.27}  # upper 0.1% quantiles of chi2
    for (id1, id2, M), weights in {
        (3, 2101, 1.4): {3122: baryon_weight(3122, True), 3212: 2.0,
                         3214: baryon_weight(3214, True)},
        (3, -3, 0.95): s_sbar,
    }.items():
        h = spec.sample_single_hadrons(M, id1, id2, n, 5)
        if mode == "Lightest":
            assert (h == min(weights, key=lambda p: spec.mass(p))).all()
            continue
        ids, counts = np.unique(h, return_counts=True)
        assert set(ids.tolist()) == set(weights)
        tot = sum(weights.values())
        chi2 = sum((c - n * weights[int(i)] / tot) ** 2 / (n * weights[int(i)] / tot)
                   for i, c in zip(ids, counts, strict=True))
        assert chi2 < chi2_999[len(weights) - 1], (chi2, ids, counts)


def bw_cdf(m: np.ndarray, m0: float, w: float, lo: float, hi: float) -> np.ndarray:
    """CDF of a fixed-width relativistic Breit-Wigner in m^2, truncated to [lo, hi]."""
    def g(x: np.ndarray | float) -> np.ndarray:
        return np.arctan((np.asarray(x) ** 2 - m0**2) / (m0 * w))
    return (g(m) - g(lo)) / (g(hi) - g(lo))


@pytest.mark.parametrize("pid", [113, 313, 2224, 225])
def test_breit_wigner_masses(table: dict, pid: int) -> None:
    """1e: masses against the analytic CDF (Kolmogorov-Smirnov), inside Pythia's range,
    reproducible from the seed; OnShell = 1 and zero-width hadrons give the nominal mass."""
    spec = _core.HadronSpectrum(PARAMS, table)
    i = table["id"].tolist().index(pid)
    m0, w = table["mass"][i], table["width"][i]
    lo, hi = table["mass_min"][i], table["mass_max"][i]
    n = 50_000
    m = np.sort(spec.sample_masses(pid, n, 3))
    assert lo <= m[0] and m[-1] <= hi
    cdf = bw_cdf(m, m0, w, lo, hi)
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < 1.95 / math.sqrt(n)  # 0.1% critical value
    np.testing.assert_array_equal(spec.sample_masses(pid, 100, 3), spec.sample_masses(pid, 100, 3))
    assert not np.array_equal(spec.sample_masses(pid, 100, 3), spec.sample_masses(pid, 100, 4))
    on_shell = _core.HadronSpectrum({**PARAMS, "OnShell": 1}, table)
    assert (on_shell.sample_masses(pid, 10, 3) == m0).all()
    assert (spec.sample_masses(211, 10, 3) == spec.mass(211)).all()


def test_decay_masses_fit_the_cluster(table: dict) -> None:
    """ClusterDecayer::decayIntoTwoHadrons: draws until m1 + m2 < M, MassTry times, then
    the nominal masses."""
    spec = _core.HadronSpectrum(PARAMS, table)
    m_rho = spec.mass(213)
    draws = np.array([spec.decay_masses(1.6, 213, -213, s) for s in range(2000)])
    assert (draws.sum(1) < 1.6).all()
    assert (draws != m_rho).all()
    # a 0.7 GeV cluster cannot hold two rho masses from [0.3, 1.5] ... rarely; 0.55 never
    # (m >= 0.3 each, sum >= 0.6): every draw fails and the nominal masses come back
    assert spec.decay_masses(0.55, 213, -213, 1) == (m_rho, m_rho)


def test_full_stage_hadron_masses(table: dict) -> None:
    """1e through the whole stage: each hadron reports the mass it was given (hadron_mass),
    equal to the invariant mass of its momentum; broad hadrons from cluster decays get
    Breit-Wigner masses inside Pythia's range, stable ones their nominal mass; OnShell = 1
    gives nominal masses everywhere. Same seed, same masses."""
    from test_step_reshuffle import pythia_partons

    events = [(e["id"], e["col"], e["acol"], e["p"]) for e in pythia_partons(20, seed=5)]
    lo = dict(zip(table["id"].tolist(), table["mass_min"].tolist(), strict=True))
    hi = dict(zip(table["id"].tolist(), table["mass_max"].tolist(), strict=True))
    nominal = dict(zip(table["id"].tolist(), table["mass"].tolist(), strict=True))
    width = dict(zip(table["id"].tolist(), table["width"].tolist(), strict=True))

    def run(params: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
        hz = _core.ClusterHadronizer(params, table, _core.ClassicClusterDecayer(params), 1)
        hz.seed(seed, seed + 1)
        res = [r for r in hz.hadronize(events) if r["error"] is None]
        ids = np.concatenate([r["hadron_id"] for r in res])
        p = np.concatenate([r["hadron_p"] for r in res])
        m = np.concatenate([r["hadron_mass"] for r in res])
        inv = np.sqrt(np.clip(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(1), 0, None))
        np.testing.assert_allclose(inv, m, rtol=1e-6, atol=1e-6)
        return np.abs(ids), m

    ids, m = run(PARAMS, 9)
    ref = np.array([nominal[i] for i in ids.tolist()])
    broad = np.array([width[i] > 0 and hi[i] > lo[i] for i in ids.tolist()])
    assert broad.sum() > 50
    np.testing.assert_array_equal(m[~broad], ref[~broad])
    assert np.mean(np.abs(m[broad] - ref[broad]) > 1e-6) > 0.95
    assert all(lo[i] <= x <= hi[i] for i, x in zip(ids[broad].tolist(), m[broad], strict=True))
    ids2, m2 = run(PARAMS, 9)
    np.testing.assert_array_equal(m2, m)
    ids_on, m_on = run({**PARAMS, "OnShell": 1}, 9)
    np.testing.assert_array_equal(m_on, [nominal[i] for i in ids_on.tolist()])
