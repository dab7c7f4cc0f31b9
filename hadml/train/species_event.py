"""Event-level fit of a format-2 model: species and angles from whole events' hadrons.

The Deep Sets discriminator of the event-level GAN (hadml.train.modules.EventGAN) sees each
primary hadron's lab four-momentum, mass and role. Here it can also see the species: a
one-hot of the hadron's |PDG id| over the species list of the head (plus one column for
any other hadron of the target), which its first layer turns into a learned embedding.
With it, an event-level fit can move species rates, which the mass alone resolves only
where species differ in mass.

The generator is the format-2 model: the species head (hadml.train.species) chooses each
cluster's pair by Gumbel-max over the allowed open pairs (the contract's rule), the masses
follow the chosen species with the classic off-shell rule (``HadronSpectrum.decay_masses``),
and the angle generator (a format-1 generator of hadml.train, conditioned on those masses)
gives the decay angles. Gradients reach the species head through the choice by the
straight-through Gumbel-softmax estimator (Jang, Gu and Poole, ICLR 2017; Maddison, Mnih
and Teh, ICLR 2017; Bengio et al. 2013 for straight-through): the forward pass uses the
exact one-hot of the drawn pair, the backward pass the gradient of softmax((log w + g)/tau).
The kinematics use the drawn pair's masses and carry no gradient to the head; the species
input of the discriminator does.

``species_source: recorded`` keeps the table's classic species and masses (the angle-only
fit of docs/validation.md section 5), so that the same code measures that fit with and
without the species input (``disc_species``). The loop is plain torch (one thread), with the
losses of EventGAN: non-saturating BCE, R1 on real sets, weight averaging of the generator
and a cosine schedule.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F

from hadml import kinematics
from hadml.io.atomic import write_atomically
from hadml.train.models import N_HADRON_FEATURES, DeepSetsDiscriminator, hadron_features

SPECIES_SOURCES = ("head", "recorded")
#: Gradient of the generator loss with respect to the species head: straight-through
#: Gumbel-softmax (through the discriminator's species input), or the score function
#: (REINFORCE, Williams 1992: per-event loss minus the batch mean times the gradient of
#: the log-probability of the event's drawn pairs; unbiased, no relaxation).
ESTIMATORS = ("straight_through", "score")
#: What the fit changes in the species head: every weight; one logit offset per species
#: and side added to the head's output (the trained head frozen); or one per species, side
#: and class of that side's constituent (u/d, s, c, b, diquark; FlavourOffsetHead). Herwig's
#: flavour weights (PwtSquark, PwtDIquark) act as the latter exactly, and as per-species
#: factors only for hadrons that one constituent class makes (not eta, eta'); or one
#: offset per class of the popped flavour (s, c, b, diquark against u/d;
#: PoppedFlavourOffsetHead): Herwig's flavour weights themselves, 4 numbers.
SPECIES_PARAMS = ("head", "offsets", "flavour_offsets", "popped_offsets")
#: Primary species whose rates the monitor prints (|PDG id|).
MONITORED = (211, 111, 321, 311, 2212, 3122, 221, 223, 333, 323, 313, 3222, 3312)


@dataclass
class SpeciesEventConfig:
    """Options of the event-level species fit (recipe hadml/train/recipes/species_event.yaml)."""

    model: str = "species_event"
    name: str = "species_event"
    seed: int = 42
    #: Generator clusters: a cluster table of the nominal setting.
    data_path: str = "clusters.parquet"
    #: Target hadrons: a cluster table of the setting to fit (only its hadrons are used).
    target_path: str = "target.parquet"
    #: Species head checkpoint (hadml train --config species) to start from.
    species_from: str = "runs/species/species_head.pt"
    #: Cluster-level Lightning checkpoint whose (mlp) generator gives the angles.
    angles_from: str = "cluster_gan.ckpt"
    species_source: str = "head"
    train_species: bool = True
    train_angles: bool = False
    disc_species: bool = True
    #: The discriminator sees each hadron's lab momentum and mass (else only its species
    #: and role: the event's species content, so that a mismatch of the frozen angle
    #: generator's kinematics cannot move species rates; docs/species.md).
    disc_kinematics: bool = True
    estimator: str = "straight_through"
    species_params: str = "head"
    #: Gumbel-softmax temperature of the backward pass.
    tau: float = 1.0
    events_per_batch: int = 128
    batches_per_epoch: int = 50
    max_epochs: int = 10
    lr_species: float = 3e-4
    lr_g: float = 5e-5
    lr_d: float = 1e-4
    r1_gamma: float = 1.0
    disc_hidden: int = 128
    disc_layers: int = 3
    ema_decay: float = 0.999
    val_fraction: float = 0.1
    split_seed: int = 0
    max_val_clusters: int = 80000
    out_dir: str = "runs"
    threads: int = 1
    #: Write the fitted format-2 model (fitted species head; angles: ``export_angles_from``,
    #: a format-1 ONNX file, None: the shipped model).
    export: str | None = None
    export_angles_from: str | None = None

    def validate(self) -> None:
        if self.model != "species_event":
            raise ValueError(f"a species_event config has model: species_event, not {self.model!r}")
        if self.species_source not in SPECIES_SOURCES:
            raise ValueError(f"species_source must be one of {SPECIES_SOURCES}")
        if self.species_source == "recorded" and self.train_species:
            raise ValueError("species_source: recorded keeps the table's species; set "
                             "train_species: false")
        if self.species_params not in SPECIES_PARAMS:
            raise ValueError(f"species_params must be one of {SPECIES_PARAMS}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}")
        if not (self.disc_kinematics or self.disc_species):
            raise ValueError("the discriminator sees nothing: set disc_kinematics and/or "
                             "disc_species")
        if self.train_angles and not self.disc_kinematics:
            raise ValueError("train_angles needs the kinematics in the discriminator "
                             "(disc_kinematics: true)")
        if not (self.train_species or self.train_angles):
            raise ValueError("nothing to train: set train_species and/or train_angles")
        if self.tau <= 0 or self.events_per_batch < 1 or self.max_epochs < 1:
            raise ValueError("tau, events_per_batch and max_epochs must be positive")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpeciesEventConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown species_event options {unknown}; known: {sorted(known)}")
        # YAML 1.1 reads 3e-5 (no dot) as a string: convert the float options.
        floats = {f.name for f in dataclasses.fields(cls) if f.type == "float"}
        cfg = cls(**{k: float(v) if k in floats else v for k, v in d.items()})
        cfg.validate()
        return cfg


def gumbel_choice(log_w: torch.Tensor, tau: float, generator: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Index drawn by Gumbel-max from the unnormalised log weights [B, K] (-inf: closed)
    and its straight-through one-hot [B, K]: exact in the forward pass, the gradient of
    the Gumbel-softmax softmax((log w + g) / tau) in the backward pass."""
    u = torch.rand(log_w.shape, generator=generator, dtype=log_w.dtype).clamp(1e-12, 1 - 1e-12)
    z = log_w + (-torch.log(-torch.log(u)))
    idx = torch.argmax(z, dim=1)
    soft = torch.softmax(z / tau, dim=1)
    hard = F.one_hot(idx, log_w.shape[1]).to(soft.dtype)
    return idx, hard - soft.detach() + soft


def species_onehot(cols: torch.Tensor, weights: torch.Tensor, n_columns: int) -> torch.Tensor:
    """[B, n_columns]: each row's weights [B, K] summed into the columns cols [B, K]."""
    out = torch.zeros(cols.shape[0], n_columns, dtype=weights.dtype)
    return out.scatter_add(1, cols, weights)


@dataclass
class _Events:
    """Rows of a table grouped by event."""

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, event: np.ndarray) -> _Events:
        order = np.argsort(event, kind="stable")
        _, starts, counts = np.unique(event[order], return_index=True, return_counts=True)
        return cls(order, starts, counts)

    def __len__(self) -> int:
        return len(self.starts)

    def rows(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = [self.order[self.starts[e]:self.starts[e] + self.counts[e]] for e in events]
        idx = np.concatenate([np.full(len(r), i) for i, r in enumerate(parts)])
        return np.concatenate(parts), idx


@dataclass
class SpeciesEventResult:
    checkpoint: Path
    history: list[dict[str, float]]
    seconds: float
    exported: Path | None = None


class OffsetHead(torch.nn.Module):
    """A frozen species head plus a learned logit offset per output (hadron 1 and 2 over
    the species list): logits = head(x) + offsets."""

    def __init__(self, head: torch.nn.Module, n_outputs: int) -> None:
        super().__init__()
        self.head = head.requires_grad_(False)
        self.offsets = torch.nn.Parameter(torch.zeros(n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x) + self.offsets

    def folded(self) -> torch.nn.Module:
        """The plain head with the offsets added to its last layer's bias (same outputs)."""
        head = copy.deepcopy(self.head)
        with torch.no_grad():
            head.net[-1].bias += self.offsets
        return head


class SpeciesEventFit:
    """Data, networks and one training step of the fit (see the module docstring)."""

    def __init__(self, cfg: SpeciesEventConfig, table: pa.Table, target: pa.Table,
                 log=print) -> None:
        from hadml.data.datamodule import split_by_event
        from hadml.data.features import Scaling, cluster_requests, four_vectors, target_angles
        from hadml.train.modules import load_module
        from hadml.train.species import _spectrum, load_head, prepare

        cfg.validate()
        self.cfg, self.log = cfg, log
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.spectrum = _spectrum()
        self.head, self.head_saved = load_head(cfg.species_from)
        if self.head_saved.get("flavour_offsets") is not None:
            raise ValueError(f"{cfg.species_from} is an event-level fit with flavour offsets; "
                             "start from a species checkpoint (hadml train --config species)")
        if cfg.species_params == "offsets":
            self.head = OffsetHead(self.head, 2 * len(self.head_saved["species"]))
        elif cfg.species_params == "flavour_offsets":
            from hadml.train.species import FlavourOffsetHead

            self.head = FlavourOffsetHead(self.head.requires_grad_(False),
                                          list(self.head_saved["features"]),
                                          self.head_saved["scaling"])
        elif cfg.species_params == "popped_offsets":
            from hadml.train.species import PoppedFlavourOffsetHead

            self.head = PoppedFlavourOffsetHead(self.head.requires_grad_(False),
                                                list(self.head_saved["features"]),
                                                self.head_saved["scaling"],
                                                list(self.head_saved["species"]))
        self.species: list[int] = list(self.head_saved["species"])
        self.n_columns = len(self.species) + 1  # + "another hadron" (target only)
        col = {h: k for k, h in enumerate(self.species)}
        self.column_of = np.vectorize(lambda h: col.get(abs(int(h)), len(self.species)))
        module = load_module(cfg.angles_from)
        self.angle_features = list(module.hparams["features"])
        self.angle_scaling = Scaling.from_dict(module.hparams["scaling"])
        self.noise_dim = int(module.cfg["noise_dim"])
        self.noise_distribution = module.cfg.get("noise_distribution", "normal")
        self.angles = module.sampling_generator
        self.hadron_scale = float(module.hparams.get("hadron_scale", 1.0))

        def split(t: pa.Table) -> dict[str, pa.Table]:
            m = split_by_event(t.column("event").to_numpy(), cfg.val_fraction, 0.0,
                               cfg.split_seed)
            return {k: t.filter(pa.array(v)) for k, v in m.items() if k != "test"}

        gen_t, tgt_t = split(table), split(target)
        # Generator clusters: species data (head inputs, allowed pairs: one channel table
        # for both splits, so the key indices agree), decay requests, recorded species.
        both = pa.concat_tables([gen_t["train"], gen_t["val"]])
        n_train = gen_t["train"].num_rows
        sd, self.channels, _, _ = prepare(both, self.head_saved["features"], self.species,
                                          self.head_saved["scaling"], self.spectrum)
        self.data: dict[str, Any] = {}
        for name, t, sel in (("train", gen_t["train"], slice(0, n_train)),
                             ("val", gen_t["val"], slice(n_train, None))):
            req = cluster_requests(t)
            self.data[name] = {
                "species": _rows(sd, sel), "requests": req,
                "events": _Events.of(t.column("event").to_numpy()),
                "cluster": torch.from_numpy(four_vectors(t, "")),
                "c1": torch.from_numpy(four_vectors(t, "c1")),
                "h": (torch.from_numpy(four_vectors(t, "h1")),
                      torch.from_numpy(four_vectors(t, "h2"))),
                "recorded_cols": (torch.as_tensor(self.column_of(req["id1"])),
                                  torch.as_tensor(self.column_of(req["id2"]))),
            }
        self.target: dict[str, Any] = {}
        for name, t in tgt_t.items():
            h1, h2 = four_vectors(t, "h1"), four_vectors(t, "h2")
            self.target[name] = {
                "h": (torch.from_numpy(h1), torch.from_numpy(h2)),
                "cols": (torch.as_tensor(self.column_of(t.column("h1_id").to_numpy())),
                         torch.as_tensor(self.column_of(t.column("h2_id").to_numpy()))),
                "events": _Events.of(t.column("event").to_numpy()),
                "angles": torch.as_tensor(target_angles(t), dtype=torch.float32),
            }
        n_in = ((N_HADRON_FEATURES if cfg.disc_kinematics else 1)
                + (self.n_columns if cfg.disc_species else 0))
        self.disc = DeepSetsDiscriminator(n_in, 64, cfg.disc_hidden, max(1, cfg.disc_layers - 1))
        if cfg.species_params == "head" or not cfg.train_species:
            self.head.requires_grad_(cfg.train_species)
        self.angles.requires_grad_(cfg.train_angles)
        self.head_ema = copy.deepcopy(self.head).requires_grad_(False)
        self.angles_ema = copy.deepcopy(self.angles).requires_grad_(False)
        self.ema_updates = 0
        self._nominal: dict[str, float] = {}
        b = (0.5, 0.999)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr_d, betas=b)
        params = []
        if cfg.train_species:
            params.append({"params": [p for p in self.head.parameters() if p.requires_grad],
                           "lr": cfg.lr_species,
                           "base_lr": cfg.lr_species})
        if cfg.train_angles:
            params.append({"params": self.angles.parameters(), "lr": cfg.lr_g,
                           "base_lr": cfg.lr_g})
        self.opt_g = torch.optim.Adam(params, betas=b)

    # --- generation -------------------------------------------------------------------
    def _noise(self, n: int) -> torch.Tensor:
        if self.noise_distribution == "uniform":
            return torch.rand(n, self.noise_dim, generator=self.gen)
        return torch.randn(n, self.noise_dim, generator=self.gen)

    def generate(self, split: str, rows: np.ndarray, head=None, angles=None,
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decay the clusters ``rows`` of a split: (p1, p2 [n, 4] lab, float64; species
        one-hot of hadron 1 and 2 [n, n_columns], straight-through when the head chooses
        and the estimator is straight_through). With the score estimator the
        log-probability of each drawn pair is left in ``self.last_log_prob`` [n]."""
        head = head if head is not None else self.head
        angles = angles if angles is not None else self.angles
        d = self.data[split]
        r = torch.from_numpy(rows)
        req = {k: v[rows] for k, v in d["requests"].items()}
        if self.cfg.species_source == "recorded":
            c1, c2 = d["recorded_cols"][0][r], d["recorded_cols"][1][r]
            oh1 = F.one_hot(c1, self.n_columns).float()
            oh2 = F.one_hot(c2, self.n_columns).float()
        else:
            sd = d["species"]
            from hadml.train.species import pair_log_weights

            key = sd.key[r]
            lw = pair_log_weights(head(sd.x[r]), sd.mass[r], key, self.channels)
            idx, st = gumbel_choice(lw, self.cfg.tau, self.gen)
            if self.cfg.estimator == "score":
                st = st.detach()
                self.last_log_prob = torch.gather(torch.log_softmax(lw, dim=1), 1,
                                                  idx[:, None])[:, 0]
            cols1, cols2 = self.channels.col1[key], self.channels.col2[key]
            oh1 = species_onehot(cols1, st, self.n_columns)
            oh2 = species_onehot(cols2, st, self.n_columns)
            id1 = np.asarray(self.species)[cols1[torch.arange(len(r)), idx].numpy()]
            id2 = np.asarray(self.species)[cols2[torch.arange(len(r)), idx].numpy()]
            seeds = self.rng.integers(1, 2**31 - 1, size=len(rows))
            # Masses of the chosen species by the classic off-shell rule (decayMasses).
            m = np.array([self.spectrum.decay_masses(float(mm), int(a), int(b), int(s))
                          for mm, a, b, s in zip(sd.mass[r].numpy(), id1, id2, seeds,
                                                 strict=True)])
            req["m1"], req["m2"] = m[:, 0], m[:, 1]
        from hadml import _core

        cond = self.angle_scaling.apply(_core.condition_features(req, self.angle_features))
        ang = angles(torch.as_tensor(cond, dtype=torch.float32), self._noise(len(rows))).double()
        p1, p2 = kinematics.decay_in_model_frame(
            d["cluster"][r], d["c1"][r], torch.from_numpy(np.asarray(req["m1"], np.float64)),
            torch.from_numpy(np.asarray(req["m2"], np.float64)), ang[:, 0], ang[:, 1])
        return p1, p2, oh1, oh2

    def _set(self, p1, p2, oh1, oh2) -> torch.Tensor:
        role = torch.cat([torch.ones(len(p1)), torch.zeros(len(p2))])
        if self.cfg.disc_kinematics:
            x = hadron_features(torch.cat([p1, p2]), self.hadron_scale, role).float()
        else:
            x = role[:, None].float()
        if self.cfg.disc_species:
            x = torch.cat([x, torch.cat([oh1, oh2]).float()], dim=1)
        return x

    def _target_set(self, events: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.target["train"]
        rows, idx = t["events"].rows(events)
        r = torch.from_numpy(rows)
        oh1 = F.one_hot(t["cols"][0][r], self.n_columns).float()
        oh2 = F.one_hot(t["cols"][1][r], self.n_columns).float()
        x = self._set(t["h"][0][r], t["h"][1][r], oh1, oh2)
        ev = torch.from_numpy(np.concatenate([idx, idx]))
        return x, ev

    def step(self, progress: float) -> dict[str, float]:
        cfg = self.cfg
        k = min(cfg.events_per_batch, len(self.data["train"]["events"]),
                len(self.target["train"]["events"]))
        ge = self.rng.choice(len(self.data["train"]["events"]), size=k, replace=False)
        te = self.rng.choice(len(self.target["train"]["events"]), size=k, replace=False)
        rows, idx = self.data["train"]["events"].rows(ge)
        f_ev = torch.from_numpy(np.concatenate([idx, idx]))
        real, t_ev = self._target_set(te)
        # One draw per step, for both updates (EventGAN draws twice; the discriminator step
        # sees the detached set).
        fake = self._set(*self.generate("train", rows))
        real_in = real.requires_grad_(True)
        d_real = self.disc(real_in, t_ev, k)
        d_fake = self.disc(fake.detach(), f_ev, k)
        (g,) = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
        penalty = 0.5 * cfg.r1_gamma * (g**2).sum() / k
        d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean() + penalty
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        for group in self.opt_g.param_groups:  # cosine schedule over the run
            group["lr"] = 0.5 * group["base_lr"] * (1.0 + np.cos(np.pi * progress))
        per_event = F.softplus(-self.disc(fake, f_ev, k))
        g_loss = per_event.mean()
        surrogate = g_loss
        if cfg.estimator == "score" and cfg.train_species:
            # REINFORCE with the batch mean as baseline; the event's log-probability is
            # the sum over its clusters' drawn pairs.
            logp = torch.zeros(k, dtype=self.last_log_prob.dtype).index_add(
                0, torch.from_numpy(idx), self.last_log_prob)
            adv = (per_event - per_event.mean()).detach().to(logp.dtype)
            surrogate = surrogate + (adv * logp).mean()
        if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
            raise FloatingPointError("the species event fit diverged (non-finite loss); "
                                     "lower lr_species/lr_d or raise r1_gamma")
        self.opt_g.zero_grad()
        surrogate.backward()
        self.opt_g.step()
        self._update_ema()
        return {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach())}

    @torch.no_grad()
    def _update_ema(self) -> None:
        self.ema_updates += 1
        n = float(self.ema_updates)
        w = 1.0 - min(self.cfg.ema_decay, (1.0 + n) / (10.0 + n))
        for ema, net in ((self.head_ema, self.head), (self.angles_ema, self.angles)):
            for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
                pe.lerp_(p, w)

    # --- validation -------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Distances to the target's held-out events, of the averaged generator on the
        nominal validation clusters: per monitored primary species the rate per event
        (model: expected count from the head's probabilities; recorded: the table's), and
        the 1-D Wasserstein distances of cos theta and of the primary hadrons' x_E."""
        from hadml.train.metrics import wasserstein_1d
        from hadml.train.species import expected_counts

        d, t = self.data["val"], self.target["val"]
        n = min(len(d["requests"]["p"]), self.cfg.max_val_clusters)
        rows = np.arange(n)
        n_gen_ev = len(np.unique(d["species"].event[:n]))
        n_tgt_ev = len(t["events"])
        out: dict[str, float] = {}
        sd = _rows(d["species"], slice(0, n))
        if self.cfg.species_source == "head":
            model_counts, _ = expected_counts(self.head_ema, sd, self.channels, self.species)
        else:
            model_counts = np.bincount(torch.cat([d["recorded_cols"][0][:n],
                                                  d["recorded_cols"][1][:n]]).numpy(),
                                       minlength=self.n_columns)[:len(self.species)].astype(float)
        tgt_counts = np.bincount(torch.cat(list(t["cols"])).numpy(),
                                 minlength=self.n_columns)[:len(self.species)]
        col = {h: k for k, h in enumerate(self.species)}
        for h in MONITORED:
            if h in col:
                out[f"rate_{h}"] = float(model_counts[col[h]]) / n_gen_ev
                out[f"target_rate_{h}"] = float(tgt_counts[col[h]]) / n_tgt_ev
        gen = torch.Generator().manual_seed(12345)
        saved_gen, self.gen = self.gen, gen
        p1, p2, _, _ = self.generate("val", rows, self.head_ema, self.angles_ema)
        self.gen = saved_gen
        sqrt_s = float(d["cluster"][:n, 3].sum()) / n_gen_ev  # sum of cluster energies
        cl = d["cluster"][:n]
        cos_gen = kinematics_cos_theta(cl, d["c1"][:n], p1)
        out["w_cos_theta"] = wasserstein_1d(cos_gen, t["angles"][:, 0].numpy())
        xe_gen = 2 * torch.cat([p1[:, 3], p2[:, 3]]).numpy() / sqrt_s
        xe_tgt = 2 * torch.cat([t["h"][0][:, 3], t["h"][1][:, 3]]).numpy() / sqrt_s
        out["w_x_e"] = wasserstein_1d(xe_gen, xe_tgt)
        # The same distances for the classic decays of the nominal clusters (the table's
        # hadrons): the distance the fit is to close.
        if "nominal_w_x_e" not in self._nominal:
            h1, h2 = d["h"][0][:n], d["h"][1][:n]
            self._nominal["nominal_w_cos_theta"] = wasserstein_1d(
                kinematics_cos_theta(cl, d["c1"][:n], h1), t["angles"][:, 0].numpy())
            self._nominal["nominal_w_x_e"] = wasserstein_1d(
                2 * torch.cat([h1[:, 3], h2[:, 3]]).numpy() / sqrt_s, xe_tgt)
        out.update(self._nominal)
        return out


def kinematics_cos_theta(cluster: torch.Tensor, c1: torch.Tensor, p1: torch.Tensor) -> np.ndarray:
    """cos theta of hadron 1 in the model frame (the contract's angle)."""
    return kinematics.angles_from_decay(cluster, c1, p1)[0].numpy()


def _rows(sd, sel: slice):
    from hadml.train.species import SpeciesData

    return SpeciesData(sd.x[sel], sd.mass[sel], sd.key[sel], sd.target[sel], sd.event[sel])


def closed_fractions(before: dict[str, float], now: dict[str, float]) -> dict[int, float]:
    """Per monitored species: 1 - |rate - target| / |rate before the fit - target|."""
    out = {}
    for h in MONITORED:
        if f"rate_{h}" in now:
            t = now[f"target_rate_{h}"]
            d0 = abs(before[f"rate_{h}"] - t)
            if d0 > 0:
                out[h] = 1.0 - abs(now[f"rate_{h}"] - t) / d0
    return out


def train_species_event(cfg: SpeciesEventConfig, table: pa.Table | None = None,
                        target: pa.Table | None = None, log=print) -> SpeciesEventResult:
    """Run the fit; writes ``out_dir/name/species_head.pt`` (the averaged head, in the
    format of hadml.train.species, so ``hadml export``-style export of a format-2 file
    works), ``angles.pt`` (the averaged angle generator's state) and ``history.json``."""
    from hadml.io import cluster_table

    start = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    table = table if table is not None else cluster_table.read(cfg.data_path)
    target = target if target is not None else cluster_table.read(cfg.target_path)
    fit = SpeciesEventFit(cfg, table, target, log)
    history = [dict(fit.evaluate(), epoch=-1)]
    log(_summary(history[0], history[0], start))
    total = cfg.max_epochs * cfg.batches_per_epoch
    for epoch in range(cfg.max_epochs):
        for b in range(cfg.batches_per_epoch):
            losses = fit.step((epoch * cfg.batches_per_epoch + b) / total)
        ev = dict(fit.evaluate(), epoch=epoch, **losses)
        history.append(ev)
        log(_summary(history[0], ev, start))
    out = Path(cfg.out_dir) / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    saved = dict(fit.head_saved)
    head = fit.head_ema.folded() if isinstance(fit.head_ema, OffsetHead) else fit.head_ema
    if cfg.species_params in ("flavour_offsets", "popped_offsets"):  # load_head: the wrapper
        saved["flavour_offsets"] = head.offset_table().detach().clone()
        head = head.head
    saved["state_dict"] = head.state_dict()
    saved["species_event_config"] = dataclasses.asdict(cfg)
    ckpt = out / "species_head.pt"
    torch.save(saved, ckpt)
    torch.save({"state_dict": fit.angles_ema.state_dict(), "angles_from": cfg.angles_from},
               out / "angles.pt")
    (out / "history.json").write_text(json.dumps(history, indent=1))
    result = SpeciesEventResult(ckpt, history, time.perf_counter() - start)
    if cfg.export:
        if cfg.train_angles:
            raise ValueError("export writes the fitted species head with a format-1 angle "
                             "file; a fit that trains the angles has none (train_angles: false)")
        from hadml.train.export import export_species_model

        result.exported = export_species_model(ckpt, cfg.export_angles_from, cfg.export)
    return result


def average_offset_fits(checkpoints: list[str | Path], out: str | Path) -> Path:
    """Write the head whose logit offsets are the mean of those of several offset fits of
    the same head (``species_params: offsets``, other seeds): each fit's offsets carry the
    noise of its score-function steps, and their mean has about 1/sqrt(n) of it. The fits
    must differ only in the last layer's bias (where the offsets are folded)."""
    if len(checkpoints) < 2:
        raise ValueError("average_offset_fits needs at least two checkpoints")
    saved = [torch.load(c, map_location="cpu", weights_only=False) for c in checkpoints]
    states = [s["state_dict"] for s in saved]
    bias = [k for k in states[0] if k.endswith(".bias")][-1]
    for c, st in zip(checkpoints[1:], states[1:], strict=True):
        if st.keys() != states[0].keys() or any(
                not torch.equal(st[k], states[0][k]) for k in st if k != bias):
            raise ValueError(f"{c} differs from {checkpoints[0]} beyond the last layer's bias "
                             "(not offset fits of one head)")
    for c, s in zip(checkpoints[1:], saved[1:], strict=True):
        if s["species"] != saved[0]["species"]:
            raise ValueError(f"{c}: another species list than {checkpoints[0]}")
    avg = dict(saved[0])
    avg["state_dict"] = dict(states[0])
    avg["state_dict"][bias] = torch.stack([st[bias] for st in states]).mean(dim=0)
    if any(s.get("flavour_offsets") is not None for s in saved):
        avg["flavour_offsets"] = torch.stack([s["flavour_offsets"] for s in saved]).mean(dim=0)
    avg["averaged_from"] = [str(c) for c in checkpoints]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # An existing file at ``out`` survives a failed or interrupted write.
    return write_atomically(out, lambda f: torch.save(avg, f))


def _summary(before: dict[str, float], now: dict[str, float], start: float) -> str:
    closed = closed_fractions(before, now)
    rates = " ".join(f"{h}:{now[f'rate_{h}']:.3f}/{now[f'target_rate_{h}']:.3f}"
                     f"({100 * closed.get(h, float('nan')):+.0f}%)"
                     for h in (321, 311, 2212, 3122, 333, 211) if f"rate_{h}" in now)
    return (f"epoch {int(now['epoch'])}: w_cos_theta {now['w_cos_theta']:.4f} "
            f"(classic {now['nominal_w_cos_theta']:.4f}) w_x_e {now['w_x_e']:.5f} "
            f"(classic {now['nominal_w_x_e']:.5f}) rate/target(closed) {rates} "
            f"({time.perf_counter() - start:.0f} s)")


def load_species_event_config(config: str | Path, overrides: list[str] | tuple[str, ...] = (),
                              ) -> SpeciesEventConfig:
    from hadml.train.recipes import read_recipe

    return SpeciesEventConfig.from_dict(read_recipe(config, overrides))


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="event-level fit of a format-2 model "
                                 "(docs/species.md)")
    ap.add_argument("--config", default="species_event")
    ap.add_argument("--average", nargs="+", metavar="CKPT",
                    help="instead of fitting: average the offsets of these offset fits")
    ap.add_argument("--out", help="with --average: the averaged head checkpoint")
    ap.add_argument("--export", help="with --average: also write this format-2 file")
    ap.add_argument("overrides", nargs="*", help="key=value")
    a = ap.parse_args(argv)
    if a.average:
        if not a.out:
            ap.error("--average needs --out")
        try:
            ckpt = average_offset_fits(a.average, a.out)
        except (OSError, ValueError) as err:
            ap.exit(2, f"species_event --average: {err}\n")
        print(f"averaged head: {ckpt}")
        if a.export:
            from hadml.train.export import export_species_model

            print(f"format-2 model: {export_species_model(ckpt, None, a.export)}")
        return 0
    res = train_species_event(load_species_event_config(a.config, a.overrides))
    print(f"checkpoint: {res.checkpoint} ({res.seconds:.0f} s)")
    if res.exported:
        print(f"format-2 model: {res.exported}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
