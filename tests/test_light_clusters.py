"""Step 6 (Herwig LightClusterDecayer): light clusters become one hadron, exactly on shell."""

from __future__ import annotations

import numpy as np
import pytest

from hadml import _core
from hadml.hadrons import hadron_table

MQ = 0.325  # DESIGN.md constituent mass of u/d


@pytest.fixture(scope="module")
def spectrum() -> _core.HadronSpectrum:
    return _core.HadronSpectrum(_core.default_params(), hadron_table())


def cluster(M: float, direction: np.ndarray, pabs: float) -> tuple[np.ndarray, np.ndarray]:
    """Two constituents forming a cluster of mass M moving with |p| = pabs (the step only
    looks at cluster momenta and flavours, so equal constituent masses suffice here)."""
    k = np.sqrt(M**2 / 4 - MQ**2)
    u = np.array([0.0, 0.6, 0.8])
    c1 = np.append(u * k, M / 2)
    c2 = np.append(-u * k, M / 2)
    b = direction / np.linalg.norm(direction) * pabs / np.hypot(pabs, M)

    def boost(p: np.ndarray) -> np.ndarray:
        b2 = b @ b
        g = 1 / np.sqrt(1 - b2)
        bp = b @ p[:3]
        return np.append(p[:3] + ((g - 1) * bp / b2 + g * p[3]) * b, g * (p[3] + bp))

    return boost(c1), boost(c2)


def run(spectrum: _core.HadronSpectrum, specs: list) -> tuple[dict, np.ndarray]:
    ids1, ids2, p1, p2 = [], [], [], []
    for (a, b, M, d, pabs) in specs:
        x, y = cluster(M, np.asarray(d, float), pabs)
        ids1.append(a), ids2.append(b), p1.append(x), p2.append(y)
    p1a, p2a = np.array(p1), np.array(p2)
    out = _core.decay_light_clusters(spectrum, np.array(ids1), np.array(ids2), p1a, p2a, 1)
    return out, p1a + p2a


def test_light_cluster_becomes_lightest_hadron(spectrum: _core.HadronSpectrum) -> None:
    # u + (ud)_0 at 1.0 GeV: above the constituent masses, below p pi0 (1.07 GeV)
    assert spectrum.lightest_pair_mass(2, 2101) > 1.0
    specs = [(2, 2101, 1.0, [1, 0, 0], 3.0),       # light: -> proton
             (1, -2, 1.8, [1, 0.2, 0], 5.0),       # nearest partner (same direction)
             (2, -2, 2.5, [-1, 0, 0], 8.0)]        # far away (opposite direction)
    out, pin = run(spectrum, specs)
    assert out["hadron_id"].tolist() == [2212]
    assert out["hadron_cluster"].tolist() == [0]
    assert out["fate"].tolist() == [2, 0, 0]
    ph = out["hadron_p"][0]
    m_p = spectrum.mass(2212)
    assert np.sqrt(ph[3] ** 2 - ph[:3] @ ph[:3]) == pytest.approx(m_p, rel=1e-9)
    cp = out["cluster_p"]
    # partner: the nearest cluster (index 1) keeps its mass; the far one is untouched
    m1 = np.sqrt(cp[1, 3] ** 2 - cp[1, :3] @ cp[1, :3])
    assert m1 == pytest.approx(1.8, rel=1e-9)
    assert np.array_equal(cp[2], pin[2])
    assert not np.allclose(cp[1], pin[1])
    total_in = pin.sum(0)
    total_out = ph + cp[1] + cp[2]
    assert np.abs(total_out - total_in).max() < 1e-12 * total_in[3]


def test_heavy_clusters_untouched(spectrum: _core.HadronSpectrum) -> None:
    out, pin = run(spectrum, [(2, -1, 1.5, [1, 0, 0], 2.0), (3, -3, 2.0, [0, 1, 0], 1.0)])
    assert out["hadron_id"].size == 0
    assert np.array_equal(out["cluster_p"], pin)


def test_no_partner_is_an_error(spectrum: _core.HadronSpectrum) -> None:
    with pytest.raises(RuntimeError, match="no other active cluster"):
        run(spectrum, [(2, 2101, 1.0, [1, 0, 0], 1.0)])


def test_light_partner_becomes_hadron_too(spectrum: _core.HadronSpectrum) -> None:
    # Two light u(ud) clusters flying apart: Herwig's reshuffling turns the partner into its
    # lightest hadron as well when it cannot stay a cluster above its own threshold.
    out, pin = run(spectrum, [(2, 2101, 1.0, [1, 0, 0], 2.0), (-2101, -2, 1.0, [-1, 0, 0], 2.0)])
    assert sorted(out["hadron_id"].tolist()) == [-2212, 2212]
    assert out["fate"].tolist() == [2, 2]
    ph = out["hadron_p"]
    m = np.sqrt(ph[:, 3] ** 2 - (ph[:, :3] ** 2).sum(1))
    assert m == pytest.approx([spectrum.mass(2212)] * 2, rel=1e-9)
    assert np.abs(ph.sum(0) - pin.sum(0)).max() < 1e-12 * pin[:, 3].sum()


def test_below_threshold_all_and_breit_wigner_masses() -> None:
    """1d/1e: (s, ud) clusters at 1.4 GeV (below K- p) become Lambda, Sigma0 or Sigma*0 with
    weights 2 SngWt^2 : 2 : 4 DecWt^2 (HwppSelector); the Sigma*0 gets a Breit-Wigner mass
    in Pythia's range, the stable ones their nominal mass; each exchange conserves
    4-momentum. With BelowThreshold Lightest and OnShell, always an on-shell Lambda."""
    from hadml.hadrons import hadron_table

    table = hadron_table()
    params = _core.default_params()
    n = 1500
    rng = np.random.default_rng(4)
    specs = []
    # Each light cluster has a partner (u dbar at 1 GeV, above its pi pi threshold) moving
    # with it, nearer in pair mass than any other light cluster: a light cluster taken as
    # a partner would become its lightest hadron (Lambda), as in Herwig's reshuffling.
    for _ in range(n):
        d = rng.normal(size=3)
        specs += [(3, 2101, 1.4, d, 2.0), (2, -1, 1.0, d + 0.02 * rng.normal(size=3), 4.0)]
    for below, on_shell in ((1, 0), (0, 1)):
        spec = _core.HadronSpectrum({**params, "BelowThreshold": below, "OnShell": on_shell},
                                    table)
        out, pin = run(spec, specs)
        hid, ph = out["hadron_id"], out["hadron_p"]
        assert hid.size == n and (out["hadron_cluster"] % 2 == 0).all()
        m = np.sqrt(ph[:, 3] ** 2 - (ph[:, :3] ** 2).sum(1))
        total_out = ph.sum(0) + out["cluster_p"][out["fate"] == 0].sum(0)
        assert np.abs(total_out - pin.sum(0)).max() < 1e-9 * pin[:, 3].sum()
        if not below:
            assert (hid == 3122).all()
            np.testing.assert_allclose(m, spec.mass(3122), rtol=1e-9)
            continue
        w = {3122: 2 * params["SngWt"] ** 2, 3212: 2.0, 3214: 4 * params["DecWt"] ** 2}
        ids, counts = np.unique(hid, return_counts=True)
        assert set(ids.tolist()) == set(w)
        tot = sum(w.values())
        chi2 = sum((c - n * w[int(i)] / tot) ** 2 / (n * w[int(i)] / tot)
                   for i, c in zip(ids, counts, strict=True))
        assert chi2 < 13.82  # upper 0.1% quantile, 2 degrees of freedom
        for pid in (3122, 3212):
            np.testing.assert_allclose(m[hid == pid], spec.mass(pid), rtol=1e-9)
        star = m[hid == 3214]
        i = table["id"].tolist().index(3214)
        assert (star >= table["mass_min"][i]).all() and (star <= table["mass_max"][i]).all()
        assert np.std(star) > 0.01  # a width of 36 MeV, not a fixed mass
