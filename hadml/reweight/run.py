"""``hadml reweight train`` and ``apply`` as Python functions: fit the classifier, write the
weights of a sample (a Parquet or NPZ weight file keyed by event number; optionally a
HepMC3 copy carrying the weights by name)."""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from hadml.io.atomic import write_atomically
from hadml.reweight.config import ReweightConfig
from hadml.reweight.model import (
    DCTRClassifier,
    EventSet,
    TrainingData,
    fit_logit_scale,
    load_classifier,
)
from hadml.reweight.samples import read_sample
from hadml.reweight.weights import kish_ess, normalised, write_weights

Events = Sequence[dict[str, np.ndarray]]


def _shown(path: str | Path) -> str:
    from hadml.train.summary import _shown as shown

    return shown(path)


def format_params(params: Mapping[str, float]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in sorted(params.items()))


@dataclass
class TargetCheck:
    """Weights of the held-out nominal events at one varied point: a calibrated classifier
    gives mean 1 (the varied and nominal samples have the same normalisation)."""

    params: dict[str, float]
    mean_weight: float
    kish_fraction: float  # Kish effective sample size / number of events
    max_weight: float


@dataclass
class ReweightTrainResult:
    module: DCTRClassifier
    best_checkpoint: str | None
    log_dir: str
    epochs_run: int
    best_epoch: int | None
    best_val_loss: float | None
    best_val_accuracy: float | None
    wall_seconds: float
    n_events: dict[str, int]
    checks: list[TargetCheck] = field(default_factory=list)
    nominal_path: str = ""
    logit_scale: float = 1.0

    def text(self) -> str:
        lines = [f"reweighting classifier trained: {self.epochs_run} epochs in "
                 f"{self.wall_seconds:.0f} s; run folder {_shown(self.log_dir)}",
                 "  events         : " + ", ".join(f"{k} {v}" for k, v in self.n_events.items())]
        if self.best_checkpoint is None:
            lines.append("  no best checkpoint (validation never ran)")
        else:
            lines.append(f"  best checkpoint: {_shown(self.best_checkpoint)} (epoch "
                         f"{self.best_epoch}); val/loss {self.best_val_loss:.4f}, "
                         f"val/accuracy {self.best_val_accuracy:.3f} (0.5: indistinguishable)")
        if self.logit_scale != 1.0:
            lines.append(f"  calibration    : logit x {self.logit_scale:.3f} (fitted on the "
                         "validation events; kept in the checkpoint)")
        for c in self.checks:
            lines.append(f"  held-out nominal events at {format_params(c.params)}: mean weight "
                         f"{c.mean_weight:.3f} (1 if calibrated), Kish ESS "
                         f"{100 * c.kish_fraction:.1f}%, max weight {c.max_weight:.3g}")
        lines.append(f"  logs           : {_shown(Path(self.log_dir) / 'metrics.csv')}")
        if self.best_checkpoint is not None and self.checks:
            target = format_params(self.checks[-1].params)
            lines.append("next:")
            lines.append(f"  hadml reweight apply {shlex.quote(_shown(self.best_checkpoint))} "
                         f"--sample {shlex.quote(self.nominal_path or 'NOMINAL.hepmc')} "
                         f"--target {shlex.quote('varied:' + target)} -o weights.parquet")
        return "\n".join(lines)


def _cap(events: Events, max_events: int | None) -> Events:
    return events[:max_events] if max_events is not None else events


def train(cfg: ReweightConfig, nominal: Events | None = None,
          varied: Sequence[Events] | None = None,
          enable_progress_bar: bool = False) -> ReweightTrainResult:
    """Fit the parametrized classifier. ``nominal``/``varied`` (analysis events, in the
    order of ``cfg.varied``) bypass reading ``cfg``'s sample files (tests, notebooks)."""
    cfg.validate()
    assert cfg.nominal is not None
    start = time.perf_counter()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if nominal is None:
        nominal = read_sample(cfg.nominal.path, cfg.max_events)
    if varied is None:
        varied = [read_sample(s.path, cfg.max_events) for s in cfg.varied]
    if len(varied) != len(cfg.varied):
        raise ValueError(f"{len(varied)} varied event lists for {len(cfg.varied)} samples")
    nominal, varied = _cap(nominal, cfg.max_events), [_cap(v, cfg.max_events) for v in varied]
    names = cfg.param_names()
    data = training_data(cfg, nominal, varied)
    fm, fs, pm, ps = data.standardisation()
    gm, gs = data.event_standardisation(cfg.shape_inputs)
    module = DCTRClassifier(cfg.to_dict(), names, dict(cfg.nominal.params), fm, fs, pm, ps,
                            gm, gs)
    train_dl = DataLoader(data.split["train"].tolist(), batch_size=cfg.batch_size, shuffle=True,
                          collate_fn=lambda idx: data.collate(idx, "train"), drop_last=False)
    val_dl = DataLoader(data.split["val"].tolist(), batch_size=4 * cfg.batch_size,
                        collate_fn=lambda idx: data.collate(idx, "val"))
    logger = CSVLogger(cfg.out_dir, name=cfg.name)
    ckpt = ModelCheckpoint(dirpath=str(Path(logger.log_dir) / "checkpoints"), monitor="val/loss",
                           mode="min", save_top_k=1, filename="best-{epoch:03d}")
    callbacks: list = [ckpt]
    if cfg.patience > 0:
        callbacks.append(EarlyStopping("val/loss", patience=cfg.patience, mode="min"))
    trainer = L.Trainer(max_epochs=cfg.max_epochs, accelerator=cfg.accelerator,
                        devices=cfg.devices, logger=logger, callbacks=callbacks,
                        enable_progress_bar=enable_progress_bar, enable_model_summary=False,
                        log_every_n_steps=10, num_sanity_val_steps=0)
    trainer.fit(module, train_dl, val_dl)
    best = ckpt.best_model_path or None
    best_epoch = best_loss = best_acc = None
    if best:
        state = torch.load(best, map_location="cpu", weights_only=False)
        best_epoch = int(state["epoch"])
        module = load_classifier(best)
        best_loss = float(ckpt.best_model_score)
        best_acc = _metric_at(Path(logger.log_dir) / "metrics.csv", "val/accuracy", best_epoch)
    if cfg.calibrate:
        calibrate(module, data)
        if best:
            state = torch.load(best, map_location="cpu", weights_only=False)
            state["state_dict"]["logit_scale"] = module.logit_scale.clone()
            # Rewritten whole or not at all (an interrupted write keeps the old file).
            write_atomically(Path(best), lambda f: torch.save(state, f))
    checks = _held_out_checks(module, data, cfg)
    wall = time.perf_counter() - start
    counts = {"nominal": len(nominal)}
    for s, v in zip(cfg.varied, varied, strict=True):
        counts[f"varied {format_params(s.params)}"] = len(v)
    return ReweightTrainResult(module, best, logger.log_dir, trainer.current_epoch, best_epoch,
                               best_loss, best_acc, wall, counts, checks, cfg.nominal.path,
                               float(module.logit_scale))


@torch.no_grad()
def calibrate(module: DCTRClassifier, data: TrainingData, batch_size: int = 2048) -> float:
    """Fit the classifier's logit_scale on the validation events of ``data`` (their fixed
    parameter draw) and set it; returns it."""
    module.eval()
    val = data.split["val"]
    logits, labels, weights = [], [], []
    for start in range(0, len(val), batch_size):
        batch = data.collate(val[start:start + batch_size], "val")
        n = int(batch["label"].shape[0])
        logits.append(module(batch["x"], batch["event"], n, batch["theta"],
                             batch.get("g")).double())
        labels.append(batch["label"].double())
        weights.append(batch["weight"].double())
    scale = fit_logit_scale(torch.cat(logits).numpy(), torch.cat(labels).numpy(),
                            torch.cat(weights).numpy())
    module.logit_scale.fill_(scale)
    return scale


def training_data(cfg: ReweightConfig, nominal: Events,
                  varied: Sequence[Events]) -> TrainingData:
    """The training and validation events of ``cfg`` (its seed decides the split)."""
    names = cfg.param_names()
    species, shapes = cfg.species_inputs, cfg.shape_inputs
    return TrainingData(EventSet.from_events(nominal, species, shapes),
                        [(EventSet.from_events(v, species, shapes), [s.params[k] for k in names])
                         for v, s in zip(varied, cfg.varied, strict=True)],
                        cfg.val_fraction, cfg.seed)


def _metric_at(metrics_csv: Path, name: str, epoch: int) -> float | None:
    import csv

    if not metrics_csv.is_file():
        return None
    with metrics_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get(name) and int(row["epoch"]) == epoch:
                return float(row[name])
    return None


def _held_out_checks(module: DCTRClassifier, data: TrainingData,
                     cfg: ReweightConfig) -> list[TargetCheck]:
    val = data.split["val"]
    held = data.events.subset(val[data.is_nominal[val]])
    checks = []
    for spec in cfg.varied:
        w = np.exp(module.log_weights(held, spec.params))
        checks.append(TargetCheck(dict(spec.params), float(w.mean()),
                                  kish_ess(w) / len(w), float(w.max())))
    return checks


@dataclass
class ApplyResult:
    numbers: np.ndarray
    weights: dict[str, np.ndarray]  # normalised to mean 1 over the sample
    raw_means: dict[str, float]  # mean of the unnormalised weights
    output: Path | None
    hepmc_output: Path | None

    def text(self) -> str:
        lines = [f"weights of {len(self.numbers)} events"]
        for name, w in self.weights.items():
            lines.append(f"  {name}: raw mean {self.raw_means[name]:.3f} (normalised to 1), "
                         f"Kish ESS {kish_ess(w):.0f} ({100 * kish_ess(w) / len(w):.1f}%), "
                         f"max {w.max():.3g}")
        if self.output is not None:
            lines.append(f"weight file written   : {self.output}")
        if self.hepmc_output is not None:
            lines.append(f"weighted HepMC3 copy  : {self.hepmc_output}")
        return "\n".join(lines)


Classifier = str | DCTRClassifier


def compute_weights(checkpoint: Classifier | Sequence[Classifier], events: Events,
                    targets: Mapping[str, Mapping[str, float]]) -> dict[str, np.ndarray]:
    """Raw DCTR weights exp(logit) of ``events`` at each named target. Several
    classifiers (an ensemble: the same recipe trained with different seeds) give
    exp(mean of their logits), the geometric mean of their weights: each member's error in
    log w is partly its own (initialisation, batches, validation split) and averages down
    (docs/reweighting.md, "What makes DCTR close at 50k")."""
    members = [checkpoint] if isinstance(checkpoint, str | DCTRClassifier) else list(checkpoint)
    if not members:
        raise ValueError("no classifier checkpoint given")
    modules = [load_classifier(c) if isinstance(c, str) else c for c in members]
    if len({tuple(m.param_names) for m in modules}) > 1:
        raise ValueError("the ensemble's classifiers take different parameters: "
                         f"{[m.param_names for m in modules]}")
    sets: dict[tuple[bool, bool], EventSet] = {}
    logs: dict[str, np.ndarray] = {name: np.zeros(len(events)) for name in targets}
    for module in modules:
        key = (module.species_inputs, module.shape_inputs)
        if key not in sets:
            sets[key] = EventSet.from_events(events, *key)
        for name, params in targets.items():
            logs[name] += module.log_weights(sets[key], dict(params)) / len(modules)
    return {name: np.exp(v) for name, v in logs.items()}


def apply(checkpoint: str | Sequence[str], sample: str,
          targets: Mapping[str, Mapping[str, float]],
          output: str | None = None, hepmc_output: str | None = None) -> ApplyResult:
    """Weights of the events of ``sample`` (a HepMC3 file of hadml generate) at each target
    (several checkpoints: their ensemble, see compute_weights);
    written to ``output`` (.parquet or .npz, column ``event_number`` and one per target)
    and, optionally, into a HepMC3 copy (named weights, the first called ``nominal``)."""
    from hadml.io.atomic import check_output_path
    from hadml.reweight.weights import check_weight_path, write_hepmc_copy

    if not targets:
        raise ValueError("no target: give --target NAME:name=value (repeatable)")
    if output is None and hepmc_output is None:
        raise ValueError("nothing to write: give -o WEIGHTS.parquet|.npz and/or --hepmc-out")
    if output is not None:
        check_weight_path(output)
        check_output_path(output, "weight file")
    if hepmc_output is not None:
        from hadml.io.hepmc import check_hepmc_suffix

        check_hepmc_suffix(check_output_path(hepmc_output, "HepMC3 output"))
        if Path(hepmc_output).resolve() == Path(sample).resolve():
            raise ValueError("--hepmc-out is the input sample; write the copy elsewhere")
    paths = [checkpoint] if isinstance(checkpoint, str) else list(checkpoint)
    modules = [load_classifier(c) for c in paths]
    events = read_sample(sample)
    numbers = np.array([e["number"] for e in events], dtype=np.int64)
    if len(np.unique(numbers)) != len(numbers):
        raise ValueError(f"{sample}: event numbers repeat; the weight file is keyed by them")
    raw = compute_weights(modules, events, targets)
    weights = {name: normalised(w) for name, w in raw.items()}
    if output is not None:
        write_weights(output, numbers, weights)
    if hepmc_output is not None:
        write_hepmc_copy(sample, hepmc_output, numbers, weights)
    return ApplyResult(numbers, weights, {k: float(v.mean()) for k, v in raw.items()},
                       Path(output) if output else None,
                       Path(hepmc_output) if hepmc_output else None)
