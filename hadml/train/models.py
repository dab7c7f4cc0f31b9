"""Networks: the cluster-decay generator and the two discriminators."""

from __future__ import annotations

import math

import torch
from torch import nn

from hadml import kinematics

AZIMUTH_MODES = ("learned", "uniform")
COS_THETA_MAPS = ("tanh", "fold", "log")


def fold(a: torch.Tensor) -> torch.Tensor:
    """Triangle wave of period 4 onto [-1, 1] with slope +-1 everywhere: a sample pushed past
    cos theta = +-1 is reflected back instead of stalling where tanh saturates, so the
    generator can fill the ends of the range (tanh's gradient 1 - c^2 vanishes there)."""
    return 1.0 - torch.abs(torch.remainder(a + 1.0, 4.0) - 2.0)


def log_fold(a: torch.Tensor) -> torch.Tensor:
    """cos theta = 1 - 2 exp(-|a|): the output is -ln((1 - cos theta) / 2), reflected at
    cos theta = -1 (a = 0) like :func:`fold`. Herwig's forward decays (ClDir = 1) draw
    1 - cos theta from an exponential of width ClSmr (0.78 light, 0.163 charm, 0.078 bottom
    in the default tune): in a their peak at cos theta = 1 becomes a smooth bump of unit
    width whose position is ln(2 / ClSmr), so the flavour classes differ by a shift, which
    a network learns easily, instead of by a factor 10 in width. An isotropic decay is
    |a| ~ Exp(1) (smooth, finite at a = 0), and the slope at cos theta = -1 is +-2, so
    nothing saturates there either."""
    return 1.0 - 2.0 * torch.exp(-torch.abs(a))


def log_one_minus_cos(cos_theta: torch.Tensor) -> torch.Tensor:
    """ln((1 - cos theta) / 2), floored at ln(1e-7) (cos theta = 1 in float32)."""
    return torch.log(torch.clamp(0.5 * (1.0 - cos_theta), min=1e-7))


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
        if self.cos_theta_map == "log":
            return log_fold(a)
        return fold(a) if self.cos_theta_map == "fold" else torch.tanh(a)


class ExpMixtureGenerator(nn.Module):
    """Mixture density network (Bishop 1994) for cos theta: given the condition, u = 1 -
    cos theta in [0, 2] follows a mixture of K exponentials truncated to [0, 2],

        p(u) = sum_k w_k lambda_k exp(-lambda_k u) / (1 - exp(-2 lambda_k)),

    weights w = softmax and rates lambda = exp of an MLP's 2K outputs. The family holds
    Herwig's two-body cluster decays exactly (ClusterDecayer: 1 - cos theta exponential of
    width ClSmr about the perturbative constituent's direction, or isotropic, which is the
    limit lambda -> 0) and their mixtures (a fair coin between two constituents), and
    the net only has to learn which applies when; it is trained by maximum likelihood on
    the true decay of each cluster (``model: cluster_mle``), which, unlike the adversarial
    loss, weighs every cluster's decay by its probability and so does not lose the 5%
    heavy-quark clusters or the tails of the rare forward peaks.

    Sampling (inside the exported graph; ONNX contract v1 unchanged): F(noise[:, 0]) picks
    the component by the cumulative weights, F(noise[:, 1]) is inverted in that
    component's CDF, u = -ln(1 - r (1 - exp(-2 lambda))) / lambda, and phi = pi (2
    F(noise[:, -1]) - 1) is uniform (azimuthal symmetry about constituent 1, as
    ``azimuth: uniform``). F is the CDF of the noise distribution.
    """

    #: lambda is kept in [1e-3, 1e3]: 1e-3 is isotropic to 0.1%, 1e3 forward to 1e-3 in u.
    LOG_RATE_RANGE = (math.log(1e-3), math.log(1e3))

    def __init__(self, n_condition: int, noise_dim: int, hidden: int = 128, layers: int = 3,
                 components: int = 4, noise_distribution: str = "normal"):
        super().__init__()
        if noise_dim < 3:
            raise ValueError("the exp_mixture generator needs noise_dim >= 3 (component, "
                             "cos theta, phi)")
        if components < 1:
            raise ValueError(f"mixture_components must be >= 1, not {components}")
        self.n_condition = n_condition
        self.noise_dim = noise_dim
        self.components = components
        self.noise_distribution = noise_distribution
        self.azimuth = "uniform"
        self.net = mlp(n_condition, 2 * components, hidden, layers)

    def mixture(self, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log weights [N, K], rates lambda [N, K]) for the scaled condition."""
        out = self.net(condition)
        log_w = torch.log_softmax(out[:, : self.components], dim=-1)
        lo, hi = self.LOG_RATE_RANGE
        rate = torch.exp(torch.clamp(out[:, self.components :], lo, hi))
        return log_w, rate

    def log_prob(self, condition: torch.Tensor, cos_theta: torch.Tensor) -> torch.Tensor:
        """ln p(cos theta | condition) [N] (the density in u = 1 - cos theta, same Jacobian)."""
        log_w, rate = self.mixture(condition)
        u = torch.clamp(1.0 - cos_theta, 0.0, 2.0).unsqueeze(-1)
        # ln[lambda e^(-lambda u) / (1 - e^(-2 lambda))], with expm1 for small lambda.
        log_comp = torch.log(rate) - rate * u - torch.log(-torch.expm1(-2.0 * rate))
        return torch.logsumexp(log_w + log_comp, dim=-1)

    def forward(self, condition: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        log_w, rate = self.mixture(condition)
        r_comp = uniform_from_noise(noise[:, 0], self.noise_distribution)
        r = uniform_from_noise(noise[:, 1], self.noise_distribution)
        # Component k is chosen when cum_{k-1} <= r_comp < cum_k: a one-hot mask from
        # comparisons (no data-dependent indexing, which ONNX export would make dynamic).
        cum = torch.cumsum(torch.exp(log_w), dim=-1)
        above = (r_comp.unsqueeze(-1) >= cum[:, :-1]).to(rate.dtype)
        n_above = above.sum(-1, keepdim=True)
        k = torch.arange(self.components, dtype=rate.dtype, device=rate.device)
        chosen = (k.unsqueeze(0) == n_above).to(rate.dtype)
        # In float64: for lambda -> 0 the inversion divides a rounding error by lambda
        # (float32 would leave 1e-4 in u at lambda = 1e-3, and ONNX Runtime may round
        # log1p differently from torch).
        lam = (chosen * rate).sum(-1).double()
        u = -torch.log1p(r.double() * torch.expm1(-2.0 * lam)) / lam
        cos_theta = torch.clamp(1.0 - u, -1.0, 1.0).to(rate.dtype)
        u_phi = uniform_from_noise(noise[:, -1], self.noise_distribution)
        return torch.stack([cos_theta, math.pi * (2.0 * u_phi - 1.0)], dim=-1)


GENERATORS = ("mlp", "exp_mixture")


def make_generator(config: dict, n_condition: int) -> nn.Module:
    """The generator a training config asks for (``.get``: configs older than an option)."""
    if config.get("generator", "mlp") == "exp_mixture":
        return ExpMixtureGenerator(n_condition, config["noise_dim"], config["gen_hidden"],
                                   config["gen_layers"], config.get("mixture_components", 4),
                                   config.get("noise_distribution", "normal"))
    return Generator(n_condition, config["noise_dim"], config["gen_hidden"],
                     config["gen_layers"], config.get("azimuth", "learned"),
                     config.get("noise_distribution", "normal"),
                     config.get("cos_theta_map", "tanh"))


def angle_features(angles: torch.Tensor, log_cos_theta: bool = False) -> torch.Tensor:
    """(cos theta, sin phi, cos phi): continuous across the phi = +-pi seam; with
    ``log_cos_theta`` also ln((1 - cos theta) / 2), in which the narrow forward peak of
    heavy-quark clusters (1 - cos theta ~ 0.08) spans a unit range, so the discriminator
    resolves its shape as well as that of the broad light-cluster distributions."""
    cols = [angles[:, 0], torch.sin(angles[:, 1]), torch.cos(angles[:, 1])]
    if log_cos_theta:
        cols.append(log_one_minus_cos(angles[:, 0]))
    return torch.stack(cols, dim=-1)


class ClusterDiscriminator(nn.Module):
    """Logit of 'real' for (condition, angle features)."""

    def __init__(self, n_condition: int, hidden: int = 128, layers: int = 3,
                 log_cos_theta: bool = False):
        super().__init__()
        self.log_cos_theta = log_cos_theta
        self.net = mlp(n_condition + 3 + int(log_cos_theta), 1, hidden, layers)

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
