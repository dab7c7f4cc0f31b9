"""hadml/kinematics.py (torch) against the C++ hadml::modelFrame / decayTwoBody."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hadml import _core, kinematics


def _on_shell(p3: np.ndarray, m: float) -> np.ndarray:
    return np.array([*p3, math.sqrt(m * m + float(p3 @ p3))])


def _random_decays(n: int, seed: int):
    """Clusters of 0.5..8 GeV flying with up to 45 GeV, massive constituents, unequal
    daughter masses, directions over the full sphere; some constituents along lab z so the
    |z_z| > 0.99 branch (reference axis lab x) is exercised too."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        m1, m2 = rng.uniform(0.0, 1.5, size=2)
        M = m1 + m2 + rng.uniform(0.01, 5.0)
        cluster = _on_shell(rng.normal(size=3) * rng.uniform(0, 25), M)
        if i % 5 == 0:
            cluster = _on_shell(np.array([0.0, 0.0, rng.normal() * 10]), M)
            c1 = _on_shell(np.array([1e-3, -2e-3, 3.0 * np.sign(rng.normal())]), 0.325)
        else:
            c1 = _on_shell(rng.normal(size=3) * rng.uniform(0.1, 10), rng.uniform(0, 1.5))
        rows.append((cluster, c1, m1, m2, rng.uniform(-1, 1), rng.uniform(-math.pi, math.pi)))
    return rows


def _as_tensors(rows) -> tuple[torch.Tensor, ...]:
    """(cluster, c1, m1, m2, cos theta, phi) float64 tensors of _random_decays rows."""
    cl = torch.tensor(np.array([r[0] for r in rows]))
    c1 = torch.tensor(np.array([r[1] for r in rows]))
    rest = (torch.tensor([r[k] for r in rows], dtype=torch.float64) for k in range(2, 6))
    return (cl, c1, *rest)


def test_model_frame_decay_equals_cpp():
    rows = _random_decays(400, seed=11)
    cl, c1, m1, m2, ct, ph = _as_tensors(rows)
    p1, p2 = kinematics.decay_in_model_frame(cl, c1, m1, m2, ct, ph)
    for k, r in enumerate(rows):
        q1, q2 = _core.model_frame_decay(list(r[0]), list(r[1]), r[2], r[3], r[4], r[5])
        # Same formulas in the same order: only rounding differs (|p| <= 50 GeV).
        np.testing.assert_allclose(p1[k].numpy(), q1, rtol=0, atol=1e-9)
        np.testing.assert_allclose(p2[k].numpy(), q2, rtol=0, atol=1e-9)
    # Exact four-momentum conservation and on-shell daughters.
    np.testing.assert_allclose((p1 + p2).numpy(), cl.numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(kinematics.mass(p1).numpy(), m1.numpy(), atol=1e-6)


def test_two_body_decay_equals_cpp():
    rng = np.random.default_rng(3)
    for _ in range(100):
        M = rng.uniform(1.0, 5.0)
        parent = _on_shell(rng.normal(size=3) * 10, M)
        d = rng.normal(size=3)
        m1, m2 = 0.13957, rng.uniform(0.1, 0.8)
        p1, p2 = kinematics.decay_two_body(
            torch.tensor(parent), torch.tensor(m1, dtype=torch.float64),
            torch.tensor(m2, dtype=torch.float64), torch.tensor(d),
        )
        q1, q2 = _core.two_body_decay(list(parent), m1, m2, list(d))
        np.testing.assert_allclose(p1.numpy(), q1, rtol=0, atol=1e-9)
        np.testing.assert_allclose(p2.numpy(), q2, rtol=0, atol=1e-9)


def test_angles_round_trip_and_unequal_mass_energies():
    rows = _random_decays(200, seed=5)
    cl, c1, m1, m2, ct, ph = _as_tensors(rows)
    p1, _ = kinematics.decay_in_model_frame(cl, c1, m1, m2, ct, ph)
    ct2, ph2 = kinematics.angles_from_decay(cl, c1, p1)
    np.testing.assert_allclose(ct2.numpy(), ct.numpy(), atol=1e-8)
    # atan2 keeps the full azimuth: compare on the circle.
    dphi = torch.remainder(ph2 - ph + math.pi, 2 * math.pi) - math.pi
    assert float(dphi.abs().max()) < 1e-7
    # Rest-frame energy E1* = (M^2 + m1^2 - m2^2) / 2M for unequal masses.
    beta = cl[:, :3] / cl[:, 3:]
    e1 = kinematics.boost(p1, -beta)[:, 3]
    M = kinematics.mass(cl)
    np.testing.assert_allclose(e1.numpy(), ((M**2 + m1**2 - m2**2) / (2 * M)).numpy(),
                               atol=1e-9)


def test_gradients_flow_through_decay():
    rows = _random_decays(8, seed=9)
    cl = torch.tensor(np.array([r[0] for r in rows]))
    c1 = torch.tensor(np.array([r[1] for r in rows]))
    m1 = torch.tensor([r[2] for r in rows], dtype=torch.float64)
    m2 = torch.tensor([r[3] for r in rows], dtype=torch.float64)
    ct = torch.tensor([0.3] * 8, dtype=torch.float64, requires_grad=True)
    ph = torch.tensor([1.0] * 8, dtype=torch.float64, requires_grad=True)

    def f(a, b):
        return kinematics.decay_in_model_frame(cl, c1, m1, m2, a, b)[0]

    assert torch.autograd.gradcheck(f, (ct, ph))


@pytest.mark.parametrize("bad", [-1.2, 1.5])
def test_cos_theta_clamped_like_cpp(bad):
    cl = _on_shell(np.array([1.0, 2.0, 3.0]), 2.0)
    c1 = _on_shell(np.array([0.5, 0.1, 2.0]), 0.325)
    p1, _ = kinematics.decay_in_model_frame(
        torch.tensor(cl), torch.tensor(c1), torch.tensor(0.2, dtype=torch.float64),
        torch.tensor(0.5, dtype=torch.float64), torch.tensor(bad, dtype=torch.float64),
        torch.tensor(0.4, dtype=torch.float64))
    q1, _ = _core.model_frame_decay(list(cl), list(c1), 0.2, 0.5, bad, 0.4)
    np.testing.assert_allclose(p1.numpy(), q1, rtol=0, atol=1e-9)


def test_gradients_finite_at_the_poles():
    """cos theta = +-1 exactly (a saturated tanh in float32) gives finite gradients."""
    from hadml.kinematics import unit_from_angles

    c = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64, requires_grad=True)
    phi = torch.tensor([0.3, -2.0, 1.0], dtype=torch.float64, requires_grad=True)
    v = unit_from_angles(c, phi)
    torch.testing.assert_close(v[0], torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    v.sum().backward()
    assert torch.isfinite(c.grad).all() and torch.isfinite(phi.grad).all()
