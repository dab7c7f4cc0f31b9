"""Step 1: reshuffling Pythia's partons onto Herwig's constituent mass shells."""

from __future__ import annotations

import numpy as np
import pytest

from hadml import _core

DEFAULTS = _core.default_params()


def pythia_partons(n_events: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Final partons of e+e- -> Z -> q qbar + shower at 91.188 GeV (no hadronization)."""
    import pythia8mc

    py = pythia8mc.Pythia("", False)
    for s in ("Beams:idA = 11", "Beams:idB = -11", "Beams:eCM = 91.188",
              "WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", "23:onIfAny = 1 2 3 4 5",
              "PDF:lepton = off", "HadronLevel:all = off", "Print:quiet = on",
              "Random:setSeed = on", f"Random:seed = {seed}"):
        py.readString(s)
    assert py.init()
    out = []
    while len(out) < n_events:
        if not py.next():
            continue
        rows = [(p.id(), p.col(), p.acol(), p.px(), p.py(), p.pz(), p.e())
                for p in py.event if p.isFinal() and (p.col() or p.acol())]
        # final-state photons and leptons stay out of the cluster stage
        a = np.array(rows, dtype=float)
        out.append({"id": a[:, 0].astype(np.int32), "col": a[:, 1].astype(np.int32),
                    "acol": a[:, 2].astype(np.int32), "p": a[:, 3:7].copy()})
    return out


def constituent_mass(pid: int) -> float:
    a = abs(pid)
    name = {1: "DownMass", 2: "UpMass", 3: "StrangeMass", 4: "CharmMass", 5: "BottomMass",
            21: "GluonMass"}[a]
    return DEFAULTS[name]


def minkowski_m2(p: np.ndarray) -> np.ndarray:
    return p[..., 3] ** 2 - (p[..., :3] ** 2).sum(-1)


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    b2 = beta @ beta
    if b2 == 0.0:
        return p.copy()
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = p[:, :3] @ beta
    f = (gamma - 1.0) / b2 * bp + gamma * p[:, 3]
    return np.column_stack([p[:, :3] + np.outer(f, beta), gamma * (p[:, 3] + bp)])


@pytest.fixture(scope="module")
def events() -> list[dict[str, np.ndarray]]:
    return pythia_partons(20, seed=11)


def check_reshuffled(before: dict, after: dict) -> None:
    p0, p1 = before["p"], after["p"]
    total = p0.sum(0)
    Q = np.sqrt(minkowski_m2(total))
    # Exact conservation: only rounding of O(n * 1e-16 * E) remains.
    np.testing.assert_allclose(p1.sum(0), total, rtol=0, atol=1e-12 * Q)
    masses = np.array([constituent_mass(i) for i in before["id"]])
    np.testing.assert_array_equal(after["mass"], masses)
    # On shell: m^2 = E^2 - p^2 has a rounding error of a few 1e-16 E^2.
    np.testing.assert_allclose(minkowski_m2(p1), masses**2, rtol=0,
                               atol=1e-13 * (p1[:, 3] ** 2).max())
    # One common scale xi in the c.m. frame: all 3-momenta scaled by the same factor.
    beta = total[:3] / total[3]
    c0, c1 = boost(p0, -beta), boost(p1, -beta)
    ratio = np.linalg.norm(c1[:, :3], axis=1) / np.linalg.norm(c0[:, :3], axis=1)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-10)
    cross = np.cross(c0[:, :3], c1[:, :3])
    assert np.abs(cross).max() <= 1e-10 * (np.linalg.norm(c0[:, :3], axis=1) ** 2).max()
    # Everything gets heavier, so the momenta shrink.
    assert 0.0 < ratio[0] < 1.0


def test_pythia_events_conserve_and_are_on_shell(events) -> None:
    for ev in events:
        after = _core.step_reshuffle(ev)
        check_reshuffled(ev, after)
        np.testing.assert_array_equal(after["col"], ev["col"])
        np.testing.assert_array_equal(after["acol"], ev["acol"])


def test_boosted_hand_built_system() -> None:
    # u g g ubar, massless, in a frame moving with beta = 0.6 along (1, 1, 1)/sqrt(3).
    rng = np.random.default_rng(5)
    dirs = rng.normal(size=(3, 3))
    dirs /= np.linalg.norm(dirs, axis=1)[:, None]
    e = np.array([10.0, 7.0, 5.0])
    three = dirs * e[:, None]
    last = -three.sum(0)
    p = np.vstack([np.column_stack([three, e]), [*last, np.linalg.norm(last)]])
    p = boost(p, np.full(3, 0.6 / np.sqrt(3.0)))
    ev = {"id": np.array([2, 21, 21, -2], np.int32), "col": np.array([1, 2, 3, 0], np.int32),
          "acol": np.array([0, 1, 2, 3], np.int32), "p": p}
    check_reshuffled(ev, _core.step_reshuffle(ev))


def test_too_light_system_raises() -> None:
    # Q = 1.0 GeV < 2 x 0.95 GeV for two gluons plus the quarks.
    p = np.array([[0.25, 0, 0, 0.25], [-0.25, 0, 0, 0.25], [0, 0.25, 0, 0.25],
                  [0, -0.25, 0, 0.25]])
    ev = {"id": np.array([1, 21, 21, -1], np.int32), "col": np.array([1, 2, 3, 0], np.int32),
          "acol": np.array([0, 1, 2, 3], np.int32), "p": p}
    with pytest.raises(_core.HadronizationError, match="below the sum of constituent masses"):
        _core.step_reshuffle(ev)
