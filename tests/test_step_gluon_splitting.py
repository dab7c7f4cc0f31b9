"""Step 2: non-perturbative g -> q qbar (Herwig PartonSplitter)."""

from __future__ import annotations

import numpy as np
import pytest
from test_step_reshuffle import boost, minkowski_m2, pythia_partons

from hadml import _core

DEFAULTS = _core.default_params()
# Upper 0.1% quantiles of the chi2 distribution (tables; scipy is not a dependency).
CHI2_999 = {2: 13.816, 9: 27.877, 19: 43.820}


def gluons(n: int, mass: float, seed: int) -> dict[str, np.ndarray]:
    """n gluons of the given mass with random momenta up to 20 GeV, colours 2i+1, 2i+2."""
    rng = np.random.default_rng(seed)
    three = rng.normal(size=(n, 3)) * 8.0
    e = np.sqrt(mass**2 + (three**2).sum(1))
    return {"id": np.full(n, 21, np.int32), "col": np.arange(1, 2 * n, 2, dtype=np.int32),
            "acol": np.arange(2, 2 * n + 1, 2, dtype=np.int32),
            "p": np.column_stack([three, e])}


@pytest.fixture(scope="module")
def split_sample() -> tuple[dict, dict]:
    g = gluons(20000, DEFAULTS["GluonMass"], seed=3)
    return g, _core.step_split_gluons(g, seed=17)


def test_products_colour_and_bookkeeping(split_sample) -> None:
    g, s = split_sample
    n = len(g["id"])
    assert len(s["id"]) == 3 * n
    assert s["split"][:n].all() and not s["split"][n:].any()
    q, qb = slice(n, 3 * n, 2), slice(n + 1, 3 * n, 2)
    np.testing.assert_array_equal(s["source"][q], np.arange(n))
    np.testing.assert_array_equal(s["source"][qb], np.arange(n))
    assert (s["id"][q] > 0).all() and (s["id"][q] == -s["id"][qb]).all()
    assert np.isin(s["id"][q], [1, 2, 3]).all()
    # Pythia convention: the quark carries the gluon's colour, the antiquark its anticolour.
    np.testing.assert_array_equal(s["col"][q], g["col"])
    np.testing.assert_array_equal(s["acol"][q], 0)
    np.testing.assert_array_equal(s["acol"][qb], g["acol"])
    np.testing.assert_array_equal(s["col"][qb], 0)
    assert not s["perturbative"][n:].any()
    # 4-momentum of each gluon shared exactly (rounding) and daughters on shell.
    np.testing.assert_allclose(s["p"][q] + s["p"][qb], g["p"], rtol=0, atol=1e-12 * 40)
    mq = np.where(s["id"][q] == 3, DEFAULTS["StrangeMass"], DEFAULTS["UpMass"])
    np.testing.assert_allclose(minkowski_m2(s["p"][q]), mq**2, atol=1e-11)
    np.testing.assert_allclose(minkowski_m2(s["p"][qb]), mq**2, atol=1e-11)
    np.testing.assert_array_equal(s["mass"][q], mq)


def test_flavour_frequencies_follow_weights(split_sample) -> None:
    g, s = split_sample
    n = len(g["id"])
    ids = s["id"][n::2]
    counts = np.array([(ids == 2).sum(), (ids == 1).sum(), (ids == 3).sum()])
    w = np.array([DEFAULTS["SplitPwtUquark"], DEFAULTS["SplitPwtDquark"],
                  DEFAULTS["SplitPwtSquark"]])
    expected = n * w / w.sum()
    chi2 = (((counts - expected) ** 2) / expected).sum()
    assert chi2 < CHI2_999[2], (counts, expected)


def test_isotropic_in_gluon_rest_frame(split_sample) -> None:
    g, s = split_sample
    n = len(g["id"])
    cos_t = np.empty(n)
    phi = np.empty(n)
    for i in range(n):  # boost each quark back to its gluon's rest frame
        beta = g["p"][i, :3] / g["p"][i, 3]
        pq = boost(s["p"][n + 2 * i][None, :], -beta)[0]
        cos_t[i] = pq[2] / np.linalg.norm(pq[:3])
        phi[i] = np.arctan2(pq[1], pq[0])
    nb = 10
    for x, lo, hi in ((cos_t, -1.0, 1.0), (phi, -np.pi, np.pi)):
        counts, _ = np.histogram(x, bins=nb, range=(lo, hi))
        exp = n / nb
        chi2 = ((counts - exp) ** 2 / exp).sum()
        assert chi2 < CHI2_999[nb - 1], counts
    # <cos theta> = 0 and <cos^2 theta> = 1/3 within 4 standard errors.
    assert abs(cos_t.mean()) < 4 * np.sqrt(1 / 3 / n)
    assert abs((cos_t**2).mean() - 1 / 3) < 4 * np.sqrt(4 / 45 / n)


def test_only_open_flavours() -> None:
    # m_g = 0.8 GeV < 2 m_s = 0.9 GeV: only u and d are open, in equal proportion.
    g = gluons(4000, 0.8, seed=9)
    s = _core.step_split_gluons(g, seed=2)
    ids = s["id"][4000::2]
    assert set(np.unique(ids)) == {1, 2}
    assert abs((ids == 2).mean() - 0.5) < 4 * 0.5 / np.sqrt(4000)
    with pytest.raises(_core.HadronizationError, match="too light"):
        _core.step_split_gluons(gluons(3, 0.5, seed=1))


def test_pythia_event_after_reshuffle() -> None:
    for ev in pythia_partons(5, seed=21):
        r = _core.step_reshuffle(ev)
        s = _core.step_split_gluons(r, seed=4)
        n = len(r["id"])
        n_g = int((r["id"] == 21).sum())
        assert len(s["id"]) == n + 2 * n_g
        np.testing.assert_array_equal(s["split"][:n], r["id"] == 21)
        np.testing.assert_allclose(s["p"][~s["split"]].sum(0), ev["p"].sum(0), atol=1e-11)
