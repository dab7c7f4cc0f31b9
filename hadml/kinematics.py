"""Differentiable two-body decay kinematics and the model frame in torch.

Mirror of cpp_plugin/src/Kinematics.cpp (``hadml::decayTwoBody``, ``hadml::modelFrame``):
the same formulas in the same order, so float64 results agree with the C++ code to rounding
(tests/test_kinematics_torch.py). All four-vectors are ``(..., 4)`` tensors ordered
``(px, py, pz, e)`` like the cluster table and ``hadml::LorentzVector``.

Unlike the public HADML reference code this uses the exact unequal-mass two-body energies,
a general (not collinear) Lorentz boost and ``atan2`` for azimuths.
"""

from __future__ import annotations

import torch

__all__ = [
    "angles_from_decay",
    "boost",
    "decay_in_model_frame",
    "decay_two_body",
    "mass",
    "model_frame",
    "two_body_momentum",
    "unit_from_angles",
]


def _sqrt_nonneg(x: torch.Tensor) -> torch.Tensor:
    """sqrt(max(x, 0)) whose gradient is 0, not inf or NaN, where x <= 0: a generator that
    reaches cos theta = +-1 exactly (float32 tanh saturates) must not poison training."""
    positive = x > 0.0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))),
                       torch.zeros_like(x))


def mass(p: torch.Tensor) -> torch.Tensor:
    """Invariant mass sqrt(max(E^2 - |p|^2, 0))."""
    m2 = p[..., 3] ** 2 - (p[..., :3] ** 2).sum(-1)
    return _sqrt_nonneg(m2)


def two_body_momentum(M: torch.Tensor, m1: torch.Tensor, m2: torch.Tensor) -> torch.Tensor:
    """p* = sqrt[(M^2-(m1+m2)^2)(M^2-(m1-m2)^2)] / (2M)  (PDG kinematics review, eq. 49.17).

    Closed channels (M < m1 + m2) give p* = 0 here instead of raising (training batches are
    built from open decays; the C++ version raises).
    """
    s = M * M
    lam = (s - (m1 + m2) ** 2) * (s - (m1 - m2) ** 2)
    return _sqrt_nonneg(lam) / (2.0 * M)


def boost(p: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Active Lorentz boost of ``p`` by velocity ``b`` (..., 3), general direction.

    Same expression as ``hadml::LorentzVector::boosted``: with gamma = 1/sqrt(1-b^2),
    p' = p + [(gamma-1)/b^2 (b.p) + gamma E] b, E' = gamma (E + b.p).
    """
    b2 = (b * b).sum(-1, keepdim=True)
    safe_b2 = torch.where(b2 > 0.0, b2, torch.ones_like(b2))
    gamma = 1.0 / torch.sqrt(1.0 - b2)
    bp = (b * p[..., :3]).sum(-1, keepdim=True)
    gamma2 = (gamma - 1.0) / safe_b2
    e = p[..., 3:4]
    f = gamma2 * bp + gamma * e
    out = torch.cat([p[..., :3] + f * b, gamma * (e + bp)], dim=-1)
    return torch.where(b2 > 0.0, out, p)


def unit_from_angles(cos_theta: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    c = torch.clamp(cos_theta, -1.0, 1.0)
    s = _sqrt_nonneg(1.0 - c * c)
    return torch.stack([s * torch.cos(phi), s * torch.sin(phi), c], dim=-1)


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / torch.sqrt((v * v).sum(-1, keepdim=True))


def model_frame(cluster: torch.Tensor, constituent: torch.Tensor) -> torch.Tensor:
    """Axes (x, y, z) of the model frame as a (..., 3, 3) tensor (rows x, y, z).

    Cluster rest frame, z along constituent 1 boosted into it, x in the plane of z and the
    lab z axis (lab x when |z_z| > 0.99), y = z cross x (docs/model-contract.md).
    """
    beta = cluster[..., :3] / cluster[..., 3:4]
    z = _unit(boost(constituent, -beta)[..., :3])
    lab_z = torch.zeros_like(z)
    lab_z[..., 2] = 1.0
    lab_x = torch.zeros_like(z)
    lab_x[..., 0] = 1.0
    ref = torch.where(torch.abs(z[..., 2:3]) > 0.99, lab_x, lab_z)
    x = _unit(ref - z * (ref * z).sum(-1, keepdim=True))
    y = torch.linalg.cross(z, x, dim=-1)
    return torch.stack([x, y, z], dim=-2)


def decay_two_body(
    parent: torch.Tensor, m1: torch.Tensor, m2: torch.Tensor, dir1: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decay ``parent`` into masses m1, m2 with daughter 1 along ``dir1`` (rest frame, lab
    axes). E1* = (M^2 + m1^2 - m2^2)/(2M), E2* = M - E1*; general boost back to the lab."""
    M = mass(parent)
    p_star = two_body_momentum(M, m1, m2)
    e1 = (M * M + m1 * m1 - m2 * m2) / (2.0 * M)
    e2 = M - e1
    n = _unit(dir1)
    beta = parent[..., :3] / parent[..., 3:4]
    q = n * p_star.unsqueeze(-1)
    p1 = boost(torch.cat([q, e1.unsqueeze(-1)], dim=-1), beta)
    p2 = boost(torch.cat([-q, e2.unsqueeze(-1)], dim=-1), beta)
    return p1, p2


def decay_in_model_frame(
    cluster: torch.Tensor,
    constituent: torch.Tensor,
    m1: torch.Tensor,
    m2: torch.Tensor,
    cos_theta: torch.Tensor,
    phi: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab four-momenta of the two hadrons, hadron 1 at (cos theta, phi) in the model frame;
    the torch twin of ``_core.model_frame_decay``. Differentiable in all inputs."""
    axes = model_frame(cluster, constituent)
    local = unit_from_angles(cos_theta, phi)
    # Same summation order as ModelFrame::toRest: x*l.x + y*l.y + z*l.z.
    direction = (
        axes[..., 0, :] * local[..., 0:1]
        + axes[..., 1, :] * local[..., 1:2]
        + axes[..., 2, :] * local[..., 2:3]
    )
    return decay_two_body(cluster, m1, m2, direction)


def angles_from_decay(
    cluster: torch.Tensor, constituent: torch.Tensor, hadron1: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos theta, phi) of hadron 1 in the model frame (inverse of the decay); phi by atan2."""
    axes = model_frame(cluster, constituent)
    beta = cluster[..., :3] / cluster[..., 3:4]
    d = _unit(boost(hadron1, -beta)[..., :3])
    cos_theta = torch.clamp((d * axes[..., 2, :]).sum(-1), -1.0, 1.0)
    phi = torch.atan2((d * axes[..., 1, :]).sum(-1), (d * axes[..., 0, :]).sum(-1))
    return cos_theta, phi
