"""Event-shape observables against analytic configurations and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hadml.analysis import observables as obs


def _massless(p3: np.ndarray) -> np.ndarray:
    p3 = np.asarray(p3, dtype=float)
    return np.column_stack([p3, np.linalg.norm(p3, axis=1)])


def _three_jet(e: float = 10.0) -> np.ndarray:
    """Three equal-energy massless particles at 120 degrees in the x-y plane."""
    ang = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    return _massless(np.column_stack([e * np.cos(ang), e * np.sin(ang), np.zeros(3)]))


def _fibonacci_sphere(n: int) -> np.ndarray:
    """n nearly uniformly spread unit vectors (golden-spiral lattice)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z**2)
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def _brute_thrust(p3: np.ndarray) -> float:
    best = max(np.linalg.norm(np.array(s) @ p3)
               for s in itertools.product((-1.0, 1.0), repeat=len(p3)))
    return best / np.sum(np.linalg.norm(p3, axis=1))


def test_back_to_back():
    s = obs.event_shapes(_massless([[0, 0, 45.6], [0, 0, -45.6]]))
    assert s.thrust == pytest.approx(1.0, abs=1e-12)
    assert s.sphericity == pytest.approx(0.0, abs=1e-12)
    assert s.aplanarity == pytest.approx(0.0, abs=1e-12)
    assert s.c_parameter == pytest.approx(0.0, abs=1e-12)
    assert s.thrust_minor == pytest.approx(0.0, abs=1e-12)
    assert abs(s.thrust_axis[2]) == pytest.approx(1.0, abs=1e-12)


def test_three_particles_at_120_degrees():
    s = obs.event_shapes(_three_jet())
    assert s.thrust == pytest.approx(2 / 3, abs=1e-12)
    assert s.c_parameter == pytest.approx(3 / 4, abs=1e-12)
    # Planar event: D, aplanarity and thrust minor vanish; Parisi/sphericity eigenvalues
    # are (1/2, 1/2, 0) so S = 3/2 * 1/2.
    assert s.d_parameter == pytest.approx(0.0, abs=1e-12)
    assert s.aplanarity == pytest.approx(0.0, abs=1e-12)
    assert s.sphericity == pytest.approx(0.75, abs=1e-12)
    assert s.thrust_minor == pytest.approx(0.0, abs=1e-12)
    # Thrust major: best in-plane axis perpendicular to the thrust axis.
    assert s.thrust_major == pytest.approx(np.sin(np.pi / 3) * 2 / 3, abs=1e-12)
    # Thrust axis along one particle: that hemisphere is massless, the other holds two
    # particles 120 degrees apart: M^2 = 2 E^2 (1 - cos 120) = 3 E^2, over E_vis^2 = 9 E^2.
    assert s.heavy_mass2 == pytest.approx(1 / 3, abs=1e-12)
    assert s.light_mass2 == pytest.approx(0.0, abs=1e-12)


def test_isotropic_limit():
    p4 = _massless(_fibonacci_sphere(120))
    s = obs.event_shapes(p4)
    # For a continuous isotropic distribution T = 1/2, S = 1, C = 1; the 120-point
    # lattice deviates at the per-cent level.
    assert s.thrust == pytest.approx(0.5, abs=0.02)
    assert s.sphericity == pytest.approx(1.0, abs=0.02)
    assert s.c_parameter == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("n", [3, 4, 5, 7, 9, 11])
def test_exact_thrust_equals_brute_force(n):
    rng = np.random.default_rng(100 + n)
    for _ in range(5):
        p3 = rng.normal(size=(n, 3)) * rng.exponential(size=(n, 1))
        t, axis = obs.thrust_axis(p3)
        assert t == pytest.approx(_brute_thrust(p3), abs=1e-9)
        # The returned axis attains the returned value.
        assert np.sum(np.abs(p3 @ axis)) / np.sum(np.linalg.norm(p3, axis=1)) == pytest.approx(
            t, abs=1e-12)


def test_thrust_major_equals_brute_force():
    rng = np.random.default_rng(7)
    for n in (3, 5, 8, 10):
        p3 = rng.normal(size=(n, 3))
        _, t_axis = obs.thrust_axis(p3)
        major, m_axis = obs.thrust_major_axis(p3, t_axis)
        assert abs(m_axis @ t_axis) < 1e-12
        # brute force: the projected momenta's 2-D thrust over all sign patterns
        q = p3 - np.outer(p3 @ t_axis, t_axis)
        best = max(np.linalg.norm(np.array(s) @ q)
                   for s in itertools.product((-1.0, 1.0), repeat=n))
        assert major == pytest.approx(best / np.sum(np.linalg.norm(p3, axis=1)), abs=1e-9)


@pytest.mark.parametrize("use_fastjet", [True, False])
def test_y23_symmetric_three_jets(use_fastjet):
    # y_ij = 2 (Q/3)^2 (1 - cos 120) / Q^2 = 1/3 for every pair: -ln y23 = ln 3, the lower
    # end of the ALEPH d05 range.
    assert obs.durham_y23(_three_jet(), use_fastjet=use_fastjet) == pytest.approx(1 / 3,
                                                                                  rel=1e-12)


def test_y23_asymmetric_config_and_fastjet_agreement():
    # Momentum-conserving 3-parton event; with exactly 3 objects y23 is the smallest
    # pairwise Durham distance.
    p3 = np.array([[20.0, 0, 0], [-8.0, 12.0, 0], [-12.0, -12.0, 0]])
    p4 = _massless(p3)
    e = p4[:, 3]
    unit = p3 / e[:, None]
    y = [2 * min(e[i], e[j]) ** 2 * (1 - unit[i] @ unit[j]) / e.sum() ** 2
         for i, j in ((0, 1), (0, 2), (1, 2))]
    assert obs.durham_y23(p4) == pytest.approx(min(y), rel=1e-12)
    # Many particles: fastjet and the numpy fallback cluster identically.
    rng = np.random.default_rng(3)
    for n in (4, 10, 30):
        p = _massless(rng.normal(size=(n, 3)))
        assert obs.durham_y23(p, use_fastjet=True) == pytest.approx(
            obs.durham_y23(p, use_fastjet=False), rel=1e-10)


def test_charge3():
    pid = np.array([211, -211, 321, -321, 311, 130, 310, 2212, -2212, 2112, 11, -11, 13, 22,
                    12, 3122, 3312, -3312, 3222, 411, 421, 431, 521, 511, 2224])
    expect = np.array([3, -3, 3, -3, 0, 0, 0, 3, -3, 0, -3, 3, -3, 0, 0, 0, -3, 3, 3, 3, 0, 3,
                       3, 0, 6])
    np.testing.assert_array_equal(obs.charge3(pid), expect)


def test_rapidity_along_axis():
    p4 = np.array([[0.0, 0.0, 3.0, 5.0]])
    y = obs.rapidity_along(p4, np.array([0.0, 0.0, 1.0]))
    assert y[0] == pytest.approx(0.5 * np.log(8.0 / 2.0), abs=1e-12)


def test_hemisphere_masses_and_broadenings_by_hand():
    # Two massless particles per hemisphere, thrust axis z: hemisphere + holds
    # (+-1, 0, 10), hemisphere - holds (0, +-2, -10).
    p3 = np.array([[1.0, 0, 10], [-1.0, 0, 10], [0, 2.0, -10], [0, -2.0, -10]])
    s = obs.event_shapes(_massless(p3))
    e_plus, e_minus = 2 * np.sqrt(101.0), 2 * np.sqrt(104.0)
    sum_p = e_plus + e_minus  # massless: sum |p| = E_vis
    assert abs(s.thrust_axis[2]) == pytest.approx(1.0, abs=1e-12)
    assert s.thrust == pytest.approx(40.0 / sum_p, abs=1e-12)
    # M^2 = E^2 - p_z^2 of each hemisphere: 4 * 101 - 400 = 4 and 4 * 104 - 400 = 16.
    assert s.heavy_mass2 == pytest.approx(16.0 / sum_p**2, rel=1e-12)
    assert s.light_mass2 == pytest.approx(4.0 / sum_p**2, rel=1e-12)
    # B_k = sum of |p_T| in the hemisphere / (2 sum |p|): 2 and 4.
    assert s.b_narrow == pytest.approx(2.0 / (2 * sum_p), rel=1e-12)
    assert s.b_wide == pytest.approx(4.0 / (2 * sum_p), rel=1e-12)
    assert s.b_total == pytest.approx(6.0 / (2 * sum_p), rel=1e-12)


@pytest.mark.parametrize("use_fastjet", [True, False])
def test_durham_resolutions_three_jets(use_fastjet):
    # 3 x 10 GeV at 120 degrees: y23 = 1/3 (every pair); the merged pair is then 20 GeV
    # back to back with the third 10 GeV particle: y12 = 2 * 10^2 * 2 / 30^2 = 4/9.
    y = obs.durham_resolutions(_three_jet(), 5, use_fastjet=use_fastjet)
    np.testing.assert_allclose(y, [4 / 9, 1 / 3, 0, 0, 0], rtol=1e-12, atol=0)


def test_durham_resolutions_fastjet_and_numpy_agree():
    rng = np.random.default_rng(11)
    for n in (2, 4, 7, 20, 45):
        p4 = _massless(rng.normal(size=(n, 3)) * rng.exponential(size=(n, 1)))
        fj = obs.durham_resolutions(p4, 5, use_fastjet=True)
        np.testing.assert_allclose(obs.durham_resolutions(p4, 5, use_fastjet=False), fj,
                                   rtol=1e-10, atol=0)
        # A running maximum: y12 >= y23 >= ... ; zero beyond n - 1 resolutions.
        assert np.all(np.diff(fj) <= 0)
        assert np.all(fj[n - 1:] == 0) and np.all(fj[:min(n - 1, 5)] > 0)


def test_is_bottom_hadron():
    pid = np.array([511, -521, 531, 5122, -5232, 513, 10513, 553, 541, 5, -5, 5101, 411, 4122,
                    211, 22, 11])
    expect = [True] * 9 + [False] * 8
    np.testing.assert_array_equal(obs.is_bottom_hadron(pid), expect)


def test_b_hadron_selection_chain():
    # Event record of decayed hadrons (mother = index of the decaying hadron, -1 = made
    # by a cluster): B_s2* -> B*+ -> B+ -> D0bar ..., Lambda_b made directly, a B0
    # whose record shows the oscillation B0 -> B0bar, and a D*+ from the B+.
    pid = np.array([535, 523, 521, -421, -5122, 511, -511, 413])
    mother = np.array([-1, 0, 1, 2, -1, -1, 5, 2])
    weak, primary = obs.b_hadron_selection(pid, mother)
    np.testing.assert_array_equal(weak, [0, 0, 1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(primary, [1, 0, 0, 0, 1, 1, 0, 0])
