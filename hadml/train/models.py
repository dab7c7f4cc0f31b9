"""Networks: the cluster-decay generator and the two discriminators."""

from __future__ import annotations

import math

import torch
from torch import nn

from hadml import kinematics

AZIMUTH_MODES = ("learned", "uniform")
COS_THETA_MAPS = ("tanh", "fold")


def fold(a: torch.Tensor) -> torch.Tensor:
    """Triangle wave of period 4 onto [-1, 1] with slope +-1 everywhere: a sample pushed past
    cos theta = +-1 is reflected back instead of stalling where tanh saturates, so the
    generator can fill the ends of the range (tanh's gradient 1 - c^2 vanishes there)."""
    return 1.0 - torch.abs(torch.remainder(a + 1.0, 4.0) - 2.0)


def uniform_from_noise(z: torch.Tensor, noise_distribution: str) -> torch.Tensor:
    """F(z) in [0, 1], F the CDF of the noise: Phi(z) = (1 + erf(z / sqrt 2)) / 2 for
    standard normal noise, z itself for uniform noise."""
    if noise_distribution == "normal":
        return 0.5 * (1.0 + torch.erf(z * 0.7071067811865476))
    return z


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

    ``azimuth="uniform"`` builds azimuthal symmetry about constituent 1 into the generator:
    the last noise component alone sets phi = pi (2 F(z) - 1), with F the CDF of the noise
    distribution, so phi is exactly uniform and independent of cos theta; the network sees
    the other components and learns cos theta only. Herwig's cluster decays (isotropic, or
    smeared about a constituent with phi uniform) have this symmetry, and a learned phi
    never quite reaches a flat distribution (docs/training.md).
    """

    def __init__(self, n_condition: int, noise_dim: int, hidden: int = 128, layers: int = 3,
                 azimuth: str = "learned", noise_distribution: str = "normal",
                 cos_theta_map: str = "tanh"):
        super().__init__()
        if cos_theta_map not in COS_THETA_MAPS:
            raise ValueError(f"cos_theta_map must be one of {COS_THETA_MAPS}, "
                             f"not {cos_theta_map!r}")
        self.cos_theta_map = cos_theta_map
        if azimuth not in AZIMUTH_MODES:
            raise ValueError(f"azimuth must be one of {AZIMUTH_MODES}, not {azimuth!r}")
        if azimuth == "uniform" and noise_dim < 2:
            raise ValueError("azimuth 'uniform' needs noise_dim >= 2 (one component sets phi)")
        self.n_condition = n_condition
        self.noise_dim = noise_dim
        self.azimuth = azimuth
        self.noise_distribution = noise_distribution
        if azimuth == "uniform":
            self.net = mlp(n_condition + noise_dim - 1, 1, hidden, layers)
        else:
            self.net = mlp(n_condition + noise_dim, 3, hidden, layers)

    def forward(self, condition: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if self.azimuth == "uniform":
            out = self.net(torch.cat([condition, noise[:, :-1]], dim=-1))
            u = uniform_from_noise(noise[:, -1], self.noise_distribution)
            return torch.stack([self._cos_theta(out[:, 0]), math.pi * (2.0 * u - 1.0)], dim=-1)
        out = self.net(torch.cat([condition, noise], dim=-1))
        return torch.stack([self._cos_theta(out[:, 0]), torch.atan2(out[:, 1], out[:, 2])],
                           dim=-1)

    def _cos_theta(self, a: torch.Tensor) -> torch.Tensor:
        return fold(a) if self.cos_theta_map == "fold" else torch.tanh(a)


def make_generator(config: dict, n_condition: int) -> Generator:
    """The generator a training config asks for (``.get``: configs older than an option)."""
    return Generator(n_condition, config["noise_dim"], config["gen_hidden"],
                     config["gen_layers"], config.get("azimuth", "learned"),
                     config.get("noise_distribution", "normal"),
                     config.get("cos_theta_map", "tanh"))


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


N_HADRON_FEATURES = 7


def hadron_features(p: torch.Tensor, scale: float, role: torch.Tensor) -> torch.Tensor:
    """Per-hadron inputs of the Deep Sets encoder: lab (px, py, pz, E, pT)/scale, the mass
    (GeV) and the role (1 for hadron 1, which carries constituent 1's flavour, else 0).

    Without the role a set of two equal-mass hadrons is the same for (cos theta, phi) and
    the back-to-back direction, and the event-level GAN cannot tell cos theta from
    -cos theta (seen in tests: it converged to the mirrored distribution). Without the mass
    (the species, as a detector sees it) the fit matched the summed primary x_E spectrum
    but moved energy between species, and the charged x_p spectrum after hadron decays got
    worse (docs/validation.md section 5).
    """
    pt = torch.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2)
    kin = torch.cat([p, pt.unsqueeze(-1)], dim=-1) / scale
    m = kinematics.mass(p).to(kin.dtype).unsqueeze(-1)
    return torch.cat([kin, m, role.to(kin.dtype).unsqueeze(-1)], dim=-1)


class DeepSetsDiscriminator(nn.Module):
    """Zaheer et al., Deep Sets (NeurIPS 2017): rho([sum_i phi(h_i), mean_i phi(h_i)]).

    Sum pooling keeps the multiplicity visible, mean pooling the typical hadron; both
    (DESIGN.md section 6). Sets are ragged: ``event`` gives each hadron's set index.

    ``n_context`` > 0 adds per-set inputs to rho (the parameters of a parametrized
    classifier, hadml.reweight); ``context`` [n_events, n_context] then goes to forward.
    """

    def __init__(self, n_in: int = N_HADRON_FEATURES, latent: int = 64, hidden: int = 128,
                 layers: int = 2, n_context: int = 0):
        super().__init__()
        self.n_context = n_context
        self.phi = mlp(n_in, latent, hidden, layers)
        self.rho = mlp(2 * latent + n_context, 1, hidden, layers)

    def forward(self, x: torch.Tensor, event: torch.Tensor, n_events: int,
                context: torch.Tensor | None = None) -> torch.Tensor:
        h = self.phi(x)
        s = torch.zeros(n_events, h.shape[1], dtype=h.dtype, device=h.device)
        s = s.index_add(0, event, h)
        count = torch.zeros(n_events, dtype=h.dtype, device=h.device)
        count = count.index_add(0, event, torch.ones_like(event, dtype=h.dtype))
        mean = s / count.clamp(min=1.0).unsqueeze(-1)
        # log1p keeps the sum's scale comparable to the mean's for ~100-hadron events.
        pooled = torch.cat([torch.sign(s) * torch.log1p(s.abs()), mean], dim=-1)
        if (context is None) != (self.n_context == 0):
            raise ValueError(f"this Deep Sets network takes {self.n_context} context inputs")
        if context is not None:
            pooled = torch.cat([pooled, context.to(pooled.dtype)], dim=-1)
        return self.rho(pooled).squeeze(-1)
