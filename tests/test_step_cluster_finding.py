"""Step 3: colour-singlet q qbar clusters (Herwig ClusterFinder)."""

from __future__ import annotations

import numpy as np
import pytest
from test_step_reshuffle import pythia_partons

from hadml import _core


def prepared(ev: dict, seed: int) -> dict:
    return _core.step_split_gluons(_core.step_reshuffle(ev), seed=seed)


def check_clusters(s: dict, c: dict) -> None:
    active = np.flatnonzero(~s["split"])
    n_q = int((s["col"][active] != 0).sum())
    assert len(c["c1_id"]) == n_q
    # Every unsplit parton is used exactly once.
    used = np.concatenate([c["c1_parton"], c["c2_parton"]])
    np.testing.assert_array_equal(np.sort(used), active)
    # constituents[0] is the colour triplet (quark), [1] the antitriplet; same colour line.
    assert (c["c1_id"] > 0).all() and (c["c2_id"] < 0).all()
    np.testing.assert_array_equal(s["col"][c["c1_parton"]], s["acol"][c["c2_parton"]])
    # Colour-line tags for the octet veto of colour reconnection: the line itself.
    np.testing.assert_array_equal(c["c1_colour"], s["col"][c["c1_parton"]])
    np.testing.assert_array_equal(c["c2_colour"], s["acol"][c["c2_parton"]])
    assert (c["c1_parton2"] == -1).all() and (c["c2_parton2"] == -1).all()
    np.testing.assert_array_equal(c["c1_id"], s["id"][c["c1_parton"]])
    np.testing.assert_array_equal(c["c2_id"], s["id"][c["c2_parton"]])
    np.testing.assert_array_equal(c["c1_p"], s["p"][c["c1_parton"]])
    np.testing.assert_array_equal(c["c1_pert"], s["perturbative"][c["c1_parton"]])
    np.testing.assert_array_equal(c["c2_pert"], s["perturbative"][c["c2_parton"]])
    np.testing.assert_allclose(c["p"], c["c1_p"] + c["c2_p"], rtol=0, atol=1e-13)
    # origin: the split gluon for non-perturbative constituents, never the same on both sides.
    for k in ("c1", "c2"):
        src = s["source"][c[f"{k}_parton"]]
        np.testing.assert_array_equal(c[f"{k}_origin"], src)
    same = (c["c1_origin"] >= 0) & (c["c1_origin"] == c["c2_origin"])
    assert not same.any()
    assert (c["parent"] == -1).all() and (c["fate"] == 0).all()


def test_hand_built_chain() -> None:
    # u(1) g(2,1) g(3,2) ubar(3): three clusters after splitting.
    p = np.array([[0, 0, 10, 10.0], [3, 0, 0, 3.0], [0, 3, 0, 3.0], [-3, -3, -10, 14.5]])
    p[3, 3] = np.linalg.norm(p[3, :3])
    ev = {"id": np.array([2, 21, 21, -2], np.int32), "col": np.array([1, 2, 3, 0], np.int32),
          "acol": np.array([0, 1, 2, 3], np.int32), "p": p}
    s = prepared(ev, seed=3)
    c = _core.step_find_clusters(s)
    check_clusters(s, c)
    assert len(c["c1_id"]) == 3
    # The original u pairs with the antiquark of the first gluon (colour line 1).
    i = int(np.flatnonzero(c["c1_parton"] == 0)[0])
    assert s["source"][c["c2_parton"][i]] == 1
    assert c["c1_pert"][i] and not c["c2_pert"][i]


def test_pythia_events() -> None:
    for k, ev in enumerate(pythia_partons(10, seed=31)):
        s = prepared(ev, seed=k + 1)
        c = _core.step_find_clusters(s)
        check_clusters(s, c)
        np.testing.assert_allclose(c["p"].sum(0), ev["p"].sum(0), rtol=0, atol=1e-10)


def test_broken_colour_line_fails_clearly() -> None:
    p = np.array([[0, 0, 5, 5.0], [0, 0, -5, 5.0], [0, 4, 0, 4.0]])
    ev = {"id": np.array([1, -1, 2], np.int32), "col": np.array([1, 0, 2], np.int32),
          "acol": np.array([0, 1, 0], np.int32), "p": p}
    with pytest.raises(_core.HadronizationError, match="broken colour line 2"):
        _core.step_find_clusters(ev)
    ev2 = {**ev, "col": np.array([1, 0, 0], np.int32), "acol": np.array([0, 1, 5], np.int32),
           "id": np.array([1, -1, -2], np.int32)}
    with pytest.raises(_core.HadronizationError, match="broken colour line 5"):
        _core.step_find_clusters(ev2)
    g = {"id": np.array([1, 21, -1], np.int32), "col": np.array([1, 2, 0], np.int32),
         "acol": np.array([0, 1, 2], np.int32), "p": p}
    with pytest.raises(_core.HadronizationError, match="split the gluons"):
        _core.step_find_clusters(g)
    dup = {**ev, "col": np.array([1, 0, 1], np.int32)}
    with pytest.raises(_core.HadronizationError, match="carried by two triplets"):
        _core.step_find_clusters(dup)
