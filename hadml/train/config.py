"""Training configuration: YAML file + ``key=value`` overrides (values parsed by YAML,
never evaluated as code)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hadml.data.datamodule import DataConfig
from hadml.train.models import AZIMUTH_MODES, COS_THETA_MAPS, GENERATORS
from hadml.train.recipes import read_recipe


@dataclass
class TrainConfig:
    model: str = "cluster"  # cluster | event | cluster_mle (maximum likelihood, exp_mixture)
    name: str = "cluster_gan"
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    noise_dim: int = 4
    noise_distribution: str = "normal"
    azimuth: str = "learned"  # learned | uniform (phi from one noise component, exact)
    cos_theta_map: str = "tanh"  # tanh | fold (triangle wave) | log (-ln((1-cos)/2), folded)
    # The cluster discriminator also sees ln((1 - cos theta) / 2) (resolves the forward peaks).
    disc_log_cos_theta: bool = False
    # mlp (the GAN generator) | exp_mixture (mixture of truncated exponentials in
    # 1 - cos theta, trained by maximum likelihood: model cluster_mle; docs/training.md)
    generator: str = "mlp"
    mixture_components: int = 4
    gen_hidden: int = 128
    gen_layers: int = 3
    disc_hidden: int = 128
    disc_layers: int = 3
    loss: str = "bce"  # bce (non-saturating, R1) | wgan-gp
    r1_gamma: float = 1.0
    gp_lambda: float = 10.0
    n_critic: int = 1
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # Exponential moving average of the generator weights (0 = off); the averaged generator
    # is the one validated, checkpointed as best and exported (Yazici et al. 2019).
    ema_decay: float = 0.0
    # Generator learning-rate schedule over max_epochs: constant, or cosine from lr_g to 0
    # (the generator then settles on the average of the discriminator's noisy verdicts).
    lr_g_schedule: str = "constant"
    max_epochs: int = 20
    max_steps: int = -1
    limit_train_batches: int | float | None = None
    val_every_n_epochs: int = 1
    out_dir: str = "runs"
    monitor: str = "val/w_angles"
    accelerator: str = "cpu"
    devices: int = 1
    export: str | None = None  # write the best generator to this ONNX file after training
    init_from: str | None = None  # start the generator from this checkpoint's generator
    # Ensemble: train this many members (docs/training.md, "Ensemble"). Member 0 is the
    # central model (this config as written); member k >= 1 differs only in its seed
    # (seed + k), so the spread of the members measures the training's own randomness.
    members: int = 1

    def validate(self) -> None:
        if self.model not in ("cluster", "event", "cluster_mle"):
            raise ValueError("model must be 'cluster', 'event' or 'cluster_mle', "
                             f"not {self.model!r}")
        if self.generator not in GENERATORS:
            raise ValueError(f"generator must be one of {GENERATORS}, not {self.generator!r}")
        if (self.generator == "exp_mixture") != (self.model == "cluster_mle"):
            raise ValueError("generator 'exp_mixture' is trained by maximum likelihood: use it "
                             "with model 'cluster_mle' (and that model with it)")
        if self.generator == "exp_mixture" and self.noise_dim < 3:
            raise ValueError("generator 'exp_mixture' needs noise_dim >= 3")
        if self.mixture_components < 1:
            raise ValueError(f"mixture_components must be >= 1, not {self.mixture_components}")
        if self.loss not in ("bce", "wgan-gp"):
            raise ValueError(f"loss must be 'bce' or 'wgan-gp', not {self.loss!r}")
        if self.noise_distribution not in ("normal", "uniform"):
            raise ValueError("noise_distribution must be 'normal' or 'uniform'")
        if self.noise_dim < 1:
            raise ValueError("noise_dim must be >= 1")
        if self.azimuth not in AZIMUTH_MODES:
            raise ValueError(f"azimuth must be one of {AZIMUTH_MODES}, not {self.azimuth!r}")
        if self.azimuth == "uniform" and self.noise_dim < 2:
            raise ValueError("azimuth 'uniform' needs noise_dim >= 2 (one component sets phi)")
        if self.data.flavour_balance < 0.0:
            raise ValueError(f"data.flavour_balance must be >= 0, not {self.data.flavour_balance}")
        if self.cos_theta_map not in COS_THETA_MAPS:
            raise ValueError(f"cos_theta_map must be one of {COS_THETA_MAPS}, "
                             f"not {self.cos_theta_map!r}")
        if self.lr_g_schedule not in ("constant", "cosine"):
            raise ValueError("lr_g_schedule must be 'constant' or 'cosine', "
                             f"not {self.lr_g_schedule!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), not {self.ema_decay}")
        if self.members < 1:
            raise ValueError(f"members must be >= 1, not {self.members}")

    def member_configs(self) -> list[TrainConfig]:
        """One single-model config per ensemble member: member 0 is this config; member k
        has seed + k, name '<name>-member<k>' and exports to '<stem>.member<k>.onnx'."""
        out = []
        for k in range(self.members):
            export = self.export
            if k and export is not None:
                path = Path(export)
                export = str(path.with_name(f"{path.stem}.member{k}{path.suffix}"))
            out.append(dataclasses.replace(
                self, members=1, seed=self.seed + k,
                name=self.name if k == 0 else f"{self.name}-member{k}", export=export))
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training options {unknown}; known: {sorted(known)}")
        data = d.pop("data", None) or {}
        dknown = {f.name for f in dataclasses.fields(DataConfig)}
        dunknown = sorted(set(data) - dknown)
        if dunknown:
            raise ValueError(f"unknown data options {dunknown}; known: {sorted(dknown)}")
        cfg = cls(data=DataConfig(**data), **d)
        cfg.validate()
        return cfg


def load_train_config(config: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a training YAML, given as a path or as the name of a shipped recipe
    (hadml.train.recipes: ``"smoke"``), and apply ``key=value`` overrides (dotted keys for
    ``data.*``). A recipe's ``description`` is documentation and is dropped."""
    raw = read_recipe(config, overrides)
    return TrainConfig.from_dict(raw)
