"""The parametrized classifier of DCTR (Andreassen and Nachman, arXiv:1907.08209) and its
training data.

A classifier f(x, theta) trained with balanced classes to separate events x of the nominal
sample (label 0) from events of varied samples at parameters theta (label 1) converges to
f = p(x|theta) / (p(x|theta) + p(x|theta0)), so the event weight that turns the nominal
sample into one at theta is w(x, theta) = f / (1 - f) = exp(logit). Nominal events are
given parameter values drawn from those of the varied events (afresh for every batch),
so that theta carries no label information by itself (the paper's section 2).

The network is the Deep Sets network of the event-level discriminator
(hadml.train.models.DeepSetsDiscriminator) over the event's final-state particles
(hadml.reweight.features), with the standardised parameters as extra inputs of rho; with
``species_inputs`` the event's species counts (final and decayed hadrons) go into rho too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from hadml.reweight.features import (
    N_EVENT_FEATURES,
    N_PARTICLE_FEATURES,
    SHAPE_EVENT_FEATURES,
    SHAPE_EVENT_MIN_WIDTH,
    SHAPE_PARTICLE_FEATURES,
    particle_features,
    shape_features,
    species_counts,
)
from hadml.train.models import DeepSetsDiscriminator

#: Smallest width used to standardise a species count (see event_standardisation).
MIN_COUNT_WIDTH = 0.5


@dataclass
class EventSet:
    """Ragged per-particle features of a list of events, ready for batching."""

    features: torch.Tensor  # [n_particles, F] float32
    counts: torch.Tensor  # [n_events] int64
    offsets: torch.Tensor  # [n_events] int64, first particle of each event
    #: [n_events, n] float32 event inputs (species counts, then the shape inputs), or
    #: None (neither)
    event_features: torch.Tensor | None = None

    @classmethod
    def from_events(cls, events: Sequence[dict[str, np.ndarray]],
                    species: bool = False, shapes: bool = False) -> EventSet:
        """The particle features (with ``shapes``, the thrust-axis coordinates appended)
        and the event inputs: species counts (``species``), then n_ch, thrust,
        sphericity, aplanarity (``shapes``; hadml.reweight.features.shape_features)."""
        feats, counts = particle_features(events)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        per_event = [species_counts(events)] if species else []
        if shapes:
            shape_particle, shape_event = shape_features(events)
            feats = np.concatenate([feats, shape_particle], axis=1)
            per_event.append(shape_event)
        g = torch.from_numpy(np.concatenate(per_event, axis=1)) if per_event else None
        return cls(torch.from_numpy(feats), torch.from_numpy(counts),
                   torch.from_numpy(offsets.astype(np.int64)), g)

    def subset(self, idx: torch.Tensor) -> EventSet:
        """The events ``idx`` as a new EventSet."""
        feats, event = self.gather(idx)
        counts = torch.bincount(event, minlength=len(idx))
        g = None if self.event_features is None else self.event_features[idx]
        return EventSet(feats, counts, torch.cumsum(counts, 0) - counts, g)

    def event_inputs(self, idx: torch.Tensor) -> torch.Tensor | None:
        return None if self.event_features is None else self.event_features[idx]

    def __len__(self) -> int:
        return len(self.counts)

    def gather(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features of the particles of events ``idx``, their index 0..len(idx)-1)."""
        counts = self.counts[idx]
        event = torch.repeat_interleave(torch.arange(len(idx)), counts)
        first = torch.cumsum(counts, 0) - counts
        rows = self.offsets[idx][event] + torch.arange(int(counts.sum())) - first[event]
        return self.features[rows], event


class DCTRClassifier(L.LightningModule):
    """logit(x, theta) = log w(x, theta); keeps the input standardisation, the parameter
    names and the nominal values in its hyperparameters (a checkpoint is self-contained)."""

    def __init__(self, config: dict[str, Any], param_names: list[str],
                 nominal_params: dict[str, float], feature_mean: list[float],
                 feature_std: list[float], param_mean: list[float],
                 param_std: list[float], event_mean: list[float] | None = None,
                 event_std: list[float] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.cfg = config
        self.param_names = list(param_names)
        # Checkpoints from before the species inputs have no such key: off.
        self.species_inputs = bool(config.get("species_inputs", False))
        # ... and before the shape inputs: off.
        self.shape_inputs = bool(config.get("shape_inputs", False))
        n_event = (N_EVENT_FEATURES if self.species_inputs else 0) + (
            len(SHAPE_EVENT_FEATURES) if self.shape_inputs else 0)
        n_particle = N_PARTICLE_FEATURES + (len(SHAPE_PARTICLE_FEATURES) if self.shape_inputs
                                            else 0)
        self.net = DeepSetsDiscriminator(n_particle, config["latent"],
                                         config["hidden"], config["layers"],
                                         n_context=len(param_names) + n_event)
        self.register_buffer("event_mean", torch.tensor(event_mean or [0.0] * n_event,
                                                        dtype=torch.float32))
        self.register_buffer("event_std", torch.tensor(event_std or [1.0] * n_event,
                                                       dtype=torch.float32))
        self.register_buffer("feature_mean", torch.tensor(feature_mean, dtype=torch.float32))
        self.register_buffer("feature_std", torch.tensor(feature_std, dtype=torch.float32))
        self.register_buffer("param_mean", torch.tensor(param_mean, dtype=torch.float32))
        self.register_buffer("param_std", torch.tensor(param_std, dtype=torch.float32))
        #: Factor on the logit in log_weights (1: none; ``calibrate`` fits it on the
        #: validation events after training, fit_logit_scale).
        self.register_buffer("logit_scale", torch.tensor(1.0))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Checkpoints from before the calibration have no logit_scale: 1.
        checkpoint["state_dict"].setdefault("logit_scale", torch.tensor(1.0))

    def forward(self, x: torch.Tensor, event: torch.Tensor, n_events: int,
                theta: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """Logit for particles ``x`` [n, F] (raw features), set index ``event`` [n], raw
        parameters ``theta`` [n_events, P] and, with species inputs, the raw species
        counts ``g`` [n_events, N_EVENT_FEATURES]."""
        with_event = self.species_inputs or self.shape_inputs
        if (with_event and g is None) or x.shape[-1] != self.feature_mean.shape[0]:
            raise ValueError("this classifier takes the events' species counts and/or shape "
                             "inputs as it was trained (EventSet.from_events(..., species="
                             f"{self.species_inputs}, shapes={self.shape_inputs}))")
        x = (x - self.feature_mean) / self.feature_std
        t = (theta.to(x.dtype) - self.param_mean) / self.param_std
        if with_event:
            t = torch.cat([t, (g.to(x.dtype) - self.event_mean) / self.event_std], dim=-1)
        return self.net(x, event, n_events, t)

    def _loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n = int(batch["label"].shape[0])
        logit = self(batch["x"], batch["event"], n, batch["theta"], batch.get("g"))
        w = batch["weight"]
        loss = (F.binary_cross_entropy_with_logits(logit, batch["label"], reduction="none")
                * w).sum() / w.sum()
        return loss, logit

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} at step "
                                     f"{self.global_step}: lower lr")
        self.log("train/loss", loss.detach(), batch_size=int(batch["label"].shape[0]))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss, logit = self._loss(batch)
        n = int(batch["label"].shape[0])
        acc = (((logit > 0).float() == batch["label"]).float() * batch["weight"]).sum() \
            / batch["weight"].sum()
        self.log("val/loss", loss, prog_bar=True, batch_size=n)
        self.log("val/accuracy", acc, batch_size=n)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.cfg["lr"],
                                weight_decay=self.cfg["weight_decay"])

    @torch.no_grad()
    def log_weights(self, events: EventSet, params: dict[str, float],
                    batch_size: int = 2048) -> np.ndarray:
        """log w(x, theta) for every event of ``events`` at parameters ``params``."""
        missing = sorted(set(self.param_names) - set(params))
        extra = sorted(set(params) - set(self.param_names))
        if missing or extra:
            raise ValueError(f"the classifier takes parameters {self.param_names}; "
                             f"missing {missing}, unknown {extra}")
        self.eval()
        theta_row = torch.tensor([[float(params[k]) for k in self.param_names]])
        out = []
        for start in range(0, len(events), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(events)))
            x, ev = events.gather(idx)
            theta = theta_row.expand(len(idx), -1)
            g = events.event_inputs(idx)
            out.append(self(x.to(self.device), ev.to(self.device), len(idx),
                            theta.to(self.device),
                            None if g is None else g.to(self.device)).double().cpu())
        return float(self.logit_scale) * torch.cat(out).numpy()


def fit_logit_scale(logit: np.ndarray, label: np.ndarray, weight: np.ndarray) -> float:
    """The factor a > 0 that minimises the weighted binary cross-entropy of a * logit
    (temperature scaling, Guo et al., ICML 2017, arXiv:1706.04599, with a = 1/T) on
    held-out events. A classifier that has fitted its training events' fluctuations is
    over-confident (a < 1): its weights overshoot (docs/reweighting.md). The loss is convex
    in a; golden-section search on [0.05, 3]."""
    z, y, w = (np.asarray(v, dtype=np.float64) for v in (logit, label, weight))

    def loss(a: float) -> float:
        t = a * z
        return float(np.sum(w * (np.logaddexp(0.0, t) - y * t)) / np.sum(w))

    lo, hi = 0.05, 3.0
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    for _ in range(60):
        if loss(c) < loss(d):
            hi = d
        else:
            lo = c
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    return 0.5 * (lo + hi)


def load_classifier(checkpoint: str) -> DCTRClassifier:
    """A trained classifier from its checkpoint (map to the CPU)."""
    return DCTRClassifier.load_from_checkpoint(checkpoint, map_location="cpu")


class TrainingData:
    """Nominal (label 0) and varied (label 1) events with their parameters and balancing
    weights, split into training and validation events; ``batches(split)`` collates."""

    def __init__(self, nominal: EventSet, varied: list[tuple[EventSet, list[float]]],
                 val_fraction: float, seed: int) -> None:
        sets = [nominal] + [s for s, _ in varied]
        with_g = [s.event_features is not None for s in sets]
        if any(with_g) and not all(with_g):
            raise ValueError("all samples need species inputs, or none")
        self.events = EventSet(torch.cat([s.features for s in sets]),
                               torch.cat([s.counts for s in sets]),
                               torch.zeros(0, dtype=torch.int64),
                               torch.cat([s.event_features for s in sets]) if all(with_g)
                               else None)
        self.events.offsets = torch.cumsum(self.events.counts, 0) - self.events.counts
        n_nom = len(nominal)
        n_var = [len(s) for s, _ in varied]
        n_params = len(varied[0][1])
        self.label = torch.cat([torch.zeros(n_nom)] + [torch.ones(n) for n in n_var])
        theta = [torch.full((n_nom, n_params), float("nan"))]
        theta += [torch.tensor(t, dtype=torch.float32).expand(n, -1) for (_, t), n in
                  zip(varied, n_var, strict=True)]
        self.theta = torch.cat(theta)
        # Balanced classes: the nominal events together weigh as much as the varied ones.
        self.weight = torch.cat([torch.full((n_nom,), sum(n_var) / n_nom),
                                 torch.ones(sum(n_var))])
        self.weight /= self.weight.mean()
        # Nominal events get the parameters of a random varied event (probability ~ N_k).
        self.varied_theta = torch.cat(theta[1:])
        self.is_nominal = self.label == 0
        gen = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(self.label), generator=gen)
        n_val = max(1, int(round(val_fraction * len(perm))))
        self.split = {"val": perm[:n_val].sort().values, "train": perm[n_val:]}
        self._gen = torch.Generator().manual_seed(seed + 1)
        # Validation: one fixed draw of the nominal events' parameters.
        self.val_theta = self._assign(self.split["val"], torch.Generator().manual_seed(seed + 2))

    def _assign(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        theta = self.theta[idx].clone()
        nom = self.is_nominal[idx]
        pick = torch.randint(len(self.varied_theta), (int(nom.sum()),), generator=gen)
        theta[nom] = self.varied_theta[pick]
        return theta

    def collate(self, idx: list[int] | torch.Tensor, split: str) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(idx, dtype=torch.int64)
        x, event = self.events.gather(idx)
        if split == "val":
            pos = torch.searchsorted(self.split["val"], idx)
            theta = self.val_theta[pos]
        else:
            theta = self._assign(idx, self._gen)
        batch = {"x": x, "event": event, "theta": theta, "label": self.label[idx],
                 "weight": self.weight[idx]}
        g = self.events.event_inputs(idx)
        if g is not None:
            batch["g"] = g
        return batch

    def standardisation(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """Mean and std of the particle features (training events) and of the varied
        parameters (std 1 where a parameter takes one value)."""
        x, _ = self.events.gather(self.split["train"])
        fm, fs = x.double().mean(0), x.double().std(0)
        fs = torch.where(fs > 0, fs, torch.ones_like(fs))
        pm, ps = self.varied_theta.double().mean(0), self.varied_theta.double().std(0)
        ps = torch.where(torch.nan_to_num(ps) > 0, ps, torch.ones_like(ps))
        return fm.tolist(), fs.tolist(), pm.tolist(), ps.tolist()

    def event_standardisation(self, shapes: bool = False) -> tuple[list[float] | None,
                                                                   list[float] | None]:
        """Mean and width of the event inputs over the training events; the width of a
        species count is at least MIN_COUNT_WIDTH, so that a rare species (a J/psi in one
        event of a thousand) does not become an input of size 30 in the event that has
        one; the shape inputs (``shapes``: the last columns) use SHAPE_EVENT_MIN_WIDTH."""
        g = self.events.event_inputs(self.split["train"])
        if g is None:
            return None, None
        gm, gs = g.double().mean(0), g.double().std(0)
        n_shape = len(SHAPE_EVENT_MIN_WIDTH) if shapes else 0
        floor = torch.tensor([MIN_COUNT_WIDTH] * (g.shape[1] - n_shape)
                             + list(SHAPE_EVENT_MIN_WIDTH[:n_shape]), dtype=torch.float64)
        return gm.tolist(), torch.maximum(gs, floor).tolist()
