"""Networks: the cluster-decay generator and the two discriminators."""

from __future__ import annotations

import torch
from torch import nn


def mlp(n_in: int, n_out: int, hidden: int, layers: int, slope: float = 0.2) -> nn.Sequential:
    mods: list[nn.Module] = []
    n = n_in
    for _ in range(layers):
        mods += [nn.Linear(n, hidden), nn.LeakyReLU(slope)]
        n = hidden
    mods.append(nn.Linear(n, n_out))
    return nn.Sequential(*mods)


class Generator(nn.Module):
    """(scaled condition [N, C], noise [N, Z]) -> angles [N, 2] = (cos theta, phi).

    Bounded by construction, as the ONNX contract's output policy requires:
    cos theta = tanh(a) in (-1, 1) and phi = atan2(b, c) in [-pi, pi]. atan2 of a 2-vector
    has no seam at phi = +-pi (pi tanh(b) would have to split a mode there).
    """

    def __init__(self, n_condition: int, noise_dim: int, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.n_condition = n_condition
        self.noise_dim = noise_dim
        self.net = mlp(n_condition + noise_dim, 3, hidden, layers)

    def forward(self, condition: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        out = self.net(torch.cat([condition, noise], dim=-1))
        return torch.stack([torch.tanh(out[:, 0]), torch.atan2(out[:, 1], out[:, 2])], dim=-1)


def angle_features(angles: torch.Tensor) -> torch.Tensor:
    """(cos theta, sin phi, cos phi): continuous across the phi = +-pi seam."""
    return torch.stack(
        [angles[:, 0], torch.sin(angles[:, 1]), torch.cos(angles[:, 1])], dim=-1
    )


class ClusterDiscriminator(nn.Module):
    """Logit of 'real' for (condition, angle features)."""

    def __init__(self, n_condition: int, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.net = mlp(n_condition + 3, 1, hidden, layers)

    def forward(self, condition: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([condition, feats], dim=-1)).squeeze(-1)


N_HADRON_FEATURES = 6


def hadron_features(p: torch.Tensor, scale: float, role: torch.Tensor) -> torch.Tensor:
    """Per-hadron inputs of the Deep Sets encoder: lab (px, py, pz, E, pT)/scale and the role
    (1 for hadron 1, which carries constituent 1's flavour, else 0).

    Without the role a set of two equal-mass hadrons is the same for (cos theta, phi) and
    the back-to-back direction, and the event-level GAN cannot tell cos theta from
    -cos theta (seen in tests: it converged to the mirrored distribution).
    """
    pt = torch.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2)
    kin = torch.cat([p, pt.unsqueeze(-1)], dim=-1) / scale
    return torch.cat([kin, role.to(kin.dtype).unsqueeze(-1)], dim=-1)


class DeepSetsDiscriminator(nn.Module):
    """Zaheer et al., Deep Sets (NeurIPS 2017): rho([sum_i phi(h_i), mean_i phi(h_i)]).

    Sum pooling keeps the multiplicity visible, mean pooling the typical hadron; both
    (DESIGN.md section 6). Sets are ragged: ``event`` gives each hadron's set index.
    """

    def __init__(self, n_in: int = N_HADRON_FEATURES, latent: int = 64, hidden: int = 128,
                 layers: int = 2):
        super().__init__()
        self.phi = mlp(n_in, latent, hidden, layers)
        self.rho = mlp(2 * latent, 1, hidden, layers)

    def forward(self, x: torch.Tensor, event: torch.Tensor, n_events: int) -> torch.Tensor:
        h = self.phi(x)
        s = torch.zeros(n_events, h.shape[1], dtype=h.dtype, device=h.device)
        s = s.index_add(0, event, h)
        count = torch.zeros(n_events, dtype=h.dtype, device=h.device)
        count = count.index_add(0, event, torch.ones_like(event, dtype=h.dtype))
        mean = s / count.clamp(min=1.0).unsqueeze(-1)
        # log1p keeps the sum's scale comparable to the mean's for ~100-hadron events.
        pooled = torch.cat([torch.sign(s) * torch.log1p(s.abs()), mean], dim=-1)
        return self.rho(pooled).squeeze(-1)
