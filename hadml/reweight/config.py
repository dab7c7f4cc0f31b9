"""Reweighting configuration: a YAML recipe (hadml/reweight/recipes, or a file) plus
``key=value`` overrides, as ``hadml train`` (values parsed by YAML, never evaluated).

The samples are part of the config::

    nominal: {path: nominal.hepmc, params: {shower_pt_min: 1.0}}
    varied:
      - {path: pt14.hepmc, params: {shower_pt_min: 1.4}}

and on the command line ``--nominal PATH:shower_pt_min=1.0 --varied PATH:shower_pt_min=1.4``.
Parameter names are free (use the generator option they stand for; ``ml`` 0/1 for classic
vs ML cluster decays) but every sample must give the same ones.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hadml.train.recipes import Recipe, read_recipe, shipped_recipes

RECIPE_DIR = Path(__file__).resolve().parent / "recipes"
COMMAND = "hadml reweight train"


@dataclass
class SampleSpec:
    """One input sample: a HepMC3 file written by hadml generate (or an .npz event sample,
    hadml.reweight.samples) and the parameter values it was generated with."""

    path: str
    params: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SampleSpec:
        """``PATH:key=value[,key=value...]`` (the command-line form)."""
        path, sep, rest = text.rpartition(":")
        if not sep or "=" not in rest:
            raise ValueError(f"sample {text!r}: write PATH:key=value[,key=value], e.g. "
                             "nominal.hepmc:shower_pt_min=1.0")
        params = {}
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ValueError(f"sample {text!r}: {item!r} is not key=value")
            params[key.strip()] = yaml.safe_load(value)
        return cls(path, params)

    @classmethod
    def from_raw(cls, raw: Any, where: str) -> SampleSpec:
        if isinstance(raw, SampleSpec):
            return raw
        if isinstance(raw, str):
            return cls.parse(raw)
        if not isinstance(raw, dict) or set(raw) - {"path", "params"} or "path" not in raw:
            raise ValueError(f"{where}: a sample is {{path: FILE, params: {{name: value}}}} "
                             f"or 'FILE:name=value', not {raw!r}")
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise ValueError(f"{where}: params must be a mapping name -> number")
        return cls(str(raw["path"]), dict(params))

    def check_params(self, where: str) -> None:
        for key, value in self.params.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                    float(value)):
                raise ValueError(f"{where}: parameter {key} = {value!r} is not a finite number")
            self.params[key] = float(value)


@dataclass
class ReweightConfig:
    name: str = "dctr"
    seed: int = 42
    nominal: SampleSpec | None = None
    varied: list[SampleSpec] = field(default_factory=list)
    #: Use at most this many events of each sample (None: all).
    max_events: int | None = None
    # Deep Sets network (hadml.train.models.DeepSetsDiscriminator), parameters into rho.
    latent: int = 64
    hidden: int = 128
    layers: int = 2
    #: Give rho the event's species counts (final and decayed hadrons of the PDG
    #: multiplicity table) besides the particle set: the strange and baryon rates that
    #: the particles' kinematics show only weakly (docs/reweighting.md).
    species_inputs: bool = False
    #: Give the network the charged-particle thrust and sphericity axes: each particle's
    #: |rapidity| along the thrust axis, pT_in and pT_out, and the event's n_ch, thrust,
    #: sphericity and aplanarity (hadml.reweight.features.shape_features;
    #: docs/reweighting.md).
    shape_inputs: bool = False
    #: After training, fit one factor on the logit on the validation events (temperature
    #: scaling; hadml.reweight.model.fit_logit_scale) and keep it in the checkpoint.
    calibrate: bool = False
    batch_size: int = 256  # events per step
    lr: float = 1e-3
    weight_decay: float = 0.0
    max_epochs: int = 20
    #: Stop when val/loss has not improved for this many epochs (0: never).
    patience: int = 4
    val_fraction: float = 0.2
    out_dir: str = "runs"
    accelerator: str = "cpu"
    devices: int = 1
    #: torch CPU threads (None: torch's default).
    threads: int | None = None

    def param_names(self) -> list[str]:
        assert self.nominal is not None
        return sorted(self.nominal.params)

    def validate(self) -> None:
        if self.nominal is None:
            raise ValueError("no nominal sample: give --nominal PATH:name=value (or nominal: "
                             "in the config)")
        if not self.varied:
            raise ValueError("no varied sample: give --varied PATH:name=value (repeatable)")
        self.nominal.check_params("nominal")
        if not self.nominal.params:
            raise ValueError("nominal sample: give its parameter values (PATH:name=value), "
                             "the classifier's inputs")
        names = set(self.nominal.params)
        for k, spec in enumerate(self.varied):
            spec.check_params(f"varied[{k}]")
            if set(spec.params) != names:
                raise ValueError(f"varied sample {spec.path} has parameters "
                                 f"{sorted(spec.params)}, the nominal {sorted(names)}: every "
                                 "sample must give the same ones")
            if spec.params == self.nominal.params:
                raise ValueError(f"varied sample {spec.path} has the nominal parameter values "
                                 f"{spec.params}: nothing to learn")
        paths = [self.nominal.path] + [s.path for s in self.varied]
        dup = sorted({p for p in paths if paths.count(p) > 1})
        if dup:
            raise ValueError(f"the same file is given as two samples: {dup}")
        for what, value, lo in (("latent", self.latent, 1), ("hidden", self.hidden, 1),
                                ("layers", self.layers, 1), ("batch_size", self.batch_size, 2),
                                ("max_epochs", self.max_epochs, 1), ("patience", self.patience, 0),
                                ("devices", self.devices, 1)):
            if not isinstance(value, int) or value < lo:
                raise ValueError(f"{what} must be an integer >= {lo}, not {value!r}")
        if self.max_events is not None and (not isinstance(self.max_events, int)
                                            or self.max_events < 10):
            raise ValueError(f"max_events must be an integer >= 10, not {self.max_events!r}")
        if not 0.0 < self.val_fraction < 0.9:
            raise ValueError(f"val_fraction must be in (0, 0.9), not {self.val_fraction}")
        for what, flag in (("species_inputs", self.species_inputs),
                           ("shape_inputs", self.shape_inputs),
                           ("calibrate", self.calibrate)):
            if not isinstance(flag, bool):
                raise ValueError(f"{what} must be true or false, not {flag!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, not {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReweightConfig:
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown reweighting options {unknown}; known: {sorted(known)}")
        if d.get("nominal") is not None:
            d["nominal"] = SampleSpec.from_raw(d["nominal"], "nominal")
        varied = d.get("varied") or []
        if not isinstance(varied, list):
            raise ValueError("varied must be a list of samples")
        d["varied"] = [SampleSpec.from_raw(v, f"varied[{k}]") for k, v in enumerate(varied)]
        return cls(**d)


def recipes() -> list[Recipe]:
    return shipped_recipes(RECIPE_DIR)


def load_reweight_config(config: str | Path | None, overrides: Sequence[str] = (),
                         nominal: str | None = None,
                         varied: Sequence[str] = ()) -> ReweightConfig:
    """A recipe (name or file), then ``key=value`` overrides (dotted keys reach into
    mappings), then the samples given on the command line (``--nominal`` replaces the
    config's nominal sample, ``--varied`` its list)."""
    raw = read_recipe(config, overrides, directory=RECIPE_DIR, command=COMMAND,
                      what="a reweighting config")
    if nominal is not None:
        raw["nominal"] = SampleSpec.parse(nominal)
    if varied:
        raw["varied"] = [SampleSpec.parse(v) for v in varied]
    cfg = ReweightConfig.from_dict(raw)
    cfg.validate()
    return cfg
