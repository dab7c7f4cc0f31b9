"""Training driver: build the DataModule and LightningModule from a TrainConfig and fit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import pyarrow as pa
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from hadml.data.datamodule import ClusterDataModule, EventDataModule
from hadml.data.features import Scaling
from hadml.train.config import TrainConfig
from hadml.train.modules import _GANBase, load_module, module_class
from hadml.train.summary import TrainingSummary, summarize


@dataclass
class TrainResult:
    module: _GANBase
    trainer: L.Trainer
    datamodule: ClusterDataModule
    best_checkpoint: str | None
    last_checkpoint: str | None
    log_dir: str
    summary: TrainingSummary  # where things are, what to run next; .text() to print
    #: Metrics of the selected (best) checkpoint on the held-out test split: the split the
    #: checkpoint monitor never saw (model selection uses the validation split only).
    test_metrics: dict[str, float] = field(default_factory=dict)


def make_datamodule(cfg: TrainConfig, table: pa.Table | None = None,
                    scaling: Scaling | None = None) -> ClusterDataModule:
    cls = EventDataModule if cfg.model == "event" else ClusterDataModule
    dm = cls(cfg.data, table=table, scaling=scaling)
    dm.setup("fit")
    return dm


# Options that define the generator: weights only mean the same thing if these agree.
GENERATOR_OPTIONS = ("noise_dim", "noise_distribution", "gen_hidden", "gen_layers", "azimuth",
                     "cos_theta_map")


def _check_same_generator(cfg: TrainConfig, checkpoint: str, source_config: dict) -> None:
    theirs = {**TrainConfig().to_dict(), **source_config}
    ours = cfg.to_dict()
    differ = [f"{k}: {theirs[k]!r} there, {ours[k]!r} here" for k in GENERATOR_OPTIONS
              if theirs.get(k) != ours.get(k)]
    if differ:
        raise ValueError(f"init_from={checkpoint} has another generator; set the same "
                         "options: " + "; ".join(differ))


def train(cfg: TrainConfig, resume: str | None = None, table: pa.Table | None = None,
          enable_progress_bar: bool = False) -> TrainResult:
    """Train; ``table`` (a cluster table) bypasses ``cfg.data.source`` (tests, notebooks)."""
    cfg.validate()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    # A resumed or initialised generator keeps the input scaling it was trained with.
    source = resume or cfg.init_from
    scaling = None
    if source:
        hp = torch.load(source, map_location="cpu", weights_only=False)["hyper_parameters"]
        if list(hp["features"]) != list(cfg.data.features):
            raise ValueError(f"{source} was trained on condition features {hp['features']}, "
                             f"the config asks for {cfg.data.features}")
        if resume is None:
            _check_same_generator(cfg, source, hp["config"])
        scaling = Scaling.from_dict(hp["scaling"])
    dm = make_datamodule(cfg, table, scaling)
    assert dm.scaling is not None
    h1e = dm.splits["train"].h1[:, 3]
    hadron_scale = float(h1e.std()) if len(h1e) > 1 and float(h1e.std()) > 0 else 1.0
    if resume is not None:
        module = load_module(resume)
    else:
        module = module_class(cfg.model)(
            config=cfg.to_dict(), scaling=dm.scaling.to_dict(), features=list(cfg.data.features),
            data_sha256=dm.data_sha256, hadron_scale=hadron_scale,
        )
        if cfg.init_from:
            # E.g. an event-level GAN started from a cluster-level one: same generator
            # layout, fresh discriminator and optimizers.
            module.load_generator_weights(
                load_module(cfg.init_from).sampling_generator.state_dict())
    out = Path(cfg.out_dir)
    csv_logger = CSVLogger(str(out), name=cfg.name)
    # One run directory for both loggers (each would otherwise count its own version).
    loggers = [csv_logger, TensorBoardLogger(str(out), name=cfg.name, version=csv_logger.version)]
    ckdir = str(Path(loggers[0].log_dir) / "checkpoints")
    ckpt = ModelCheckpoint(dirpath=ckdir, monitor=cfg.monitor, mode="min", save_top_k=1,
                           filename="best-{epoch:03d}")
    # Lightning's save_last only copies when the monitored checkpoint is saved; keep the
    # latest state separately so --resume continues from the true end of training.
    last = ModelCheckpoint(dirpath=ckdir, monitor=None, save_top_k=1, filename="last",
                           enable_version_counter=False)
    trainer = L.Trainer(
        max_epochs=cfg.max_epochs, max_steps=cfg.max_steps, accelerator=cfg.accelerator,
        devices=cfg.devices, logger=loggers, callbacks=[ckpt, last],
        limit_train_batches=cfg.limit_train_batches,
        check_val_every_n_epoch=cfg.val_every_n_epochs, enable_progress_bar=enable_progress_bar,
        enable_model_summary=False, log_every_n_steps=10, deterministic=False,
    )
    trainer.fit(module, datamodule=dm, ckpt_path=resume)
    best = ckpt.best_model_path or None
    if cfg.export:
        from hadml.train.export import export_generator

        export_generator(best or module, cfg.export)
    best_epoch = None
    if best:
        best_epoch = int(torch.load(best, map_location="cpu", weights_only=False)["epoch"])
    summary = summarize(
        loggers[0].log_dir, cfg.monitor, trainer.current_epoch, best, best_epoch,
        float(ckpt.best_model_score) if ckpt.best_model_score is not None else None,
        last_checkpoint=last.best_model_path or None, exported=cfg.export,
        model_name=cfg.name,
    )
    test_metrics = evaluate_test_split(best or module, dm)
    if test_metrics:
        (Path(loggers[0].log_dir) / "test_metrics.json").write_text(
            json.dumps(test_metrics, indent=1, sort_keys=True))
    return TrainResult(module, trainer, dm, best, last.best_model_path or None,
                       loggers[0].log_dir, summary, test_metrics)


def evaluate_test_split(model: _GANBase | str, dm: ClusterDataModule) -> dict[str, float]:
    """The validation metrics (Wasserstein distances, two-sample chi2/ndf) of ``model`` (a
    module or checkpoint) on the test split; empty when the split is empty."""
    if len(dm.splits["test"]) == 0:
        return {}
    module = load_module(model) if isinstance(model, str) else model
    module.eval()
    batch = next(iter(dm.test_dataloader()))
    return {k: float(v) for k, v in module.evaluate(*batch).items()}
