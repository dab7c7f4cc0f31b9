"""Run configuration of the generator: dataclasses, YAML files and ``key=value`` overrides.

Cluster-model parameters use Herwig 7's interface names (``ClMaxLight``, ``PwtSquark``...);
their defaults live in one place, the C++ ``hadml::ClusterParams`` (Herwig 7.3 values).
A YAML file looks like::

    ecm: 91.188
    tune: lep            # or herwig73, or a tune YAML file
    shower_pt_min: 0.655
    hadronization: classic
    cluster:
      ClMaxLight: 3.6
      PwtSquark: 0.4
    pythia:              # extra Pythia 8 settings, applied last
      - "TimeShower:alphaSvalue = 0.1365"
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HADRONIZATION_MODES = ("classic", "ml")
DEVICES = ("cpu", "cuda")
ML_POLICIES = ("error", "fallback")


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message says what to fix."""


@dataclass
class GeneratorConfig:
    """Everything that defines a run. Two runs with equal configs and seeds are identical."""

    ecm: float = 91.188
    seed: int = 1
    #: Seed of the decay streams (cluster decays, then Pythia's hadron decays); None uses
    #: ``seed``. Runs with equal ``seed`` share partons, clusters and hadron species; a
    #: different ``decay_seed`` gives them independent decays (the closure test's null).
    decay_seed: int | None = None
    #: Parameter set under this config's own values: "lep" (hadml's tune to LEP data,
    #: hadml/tunes/lep.yaml), "herwig73" (Herwig 7.3 defaults) or a tune YAML file.
    tune: str = "lep"
    #: Pythia's final-state shower cut-off TimeShower:pTmin (GeV); None takes the tune's
    #: value (Herwig 7.3 stops its shower at 0.655).
    shower_pt_min: float | None = None
    #: Pythia's final-state shower alpha_s(M_Z), TimeShower:alphaSvalue; None takes the
    #: tune's value, else Pythia's default (0.1365, tuned for its string model).
    shower_alpha_s: float | None = None
    #: Initial-state photon radiation off the leptons (PDF:lepton); off as in LEP tunes.
    isr: bool = False
    #: Open Z/gamma* -> q qbar flavours (PDG ids 1-5).
    flavours: tuple[int, ...] = (1, 2, 3, 4, 5)
    hadronization: str = "classic"
    #: ONNX model for hadronization="ml"; None selects the model shipped with hadml.
    model: str | None = None
    device: str = "cpu"
    ml_threads: int = 1
    #: What to do with a non-finite / out-of-range model output: "error" or "fallback"
    #: (decay that cluster classically and count it).
    ml_policy: str = "fallback"
    #: Let Pythia decay the primary hadrons (off: primary hadrons are final).
    decay_hadrons: bool = True
    #: Overrides of the cluster-model parameters (Herwig interface names).
    cluster: dict[str, float] = field(default_factory=dict)
    #: Extra Pythia settings strings for the perturbative stage, applied last.
    pythia: list[str] = field(default_factory=list)
    #: Events per seeding block (see hadml.generator); changing it changes the events.
    block_size: int = 100

    def validate(self) -> None:
        from hadml import _core

        if not self.ecm >= 5.0:
            raise ConfigError(f"ecm must be at least 5 GeV (e+e- -> hadrons), got {self.ecm}")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")
        if self.decay_seed is not None and not 0 <= self.decay_seed < 2**63:
            raise ConfigError(
                f"decay_seed must be a non-negative integer or null, got {self.decay_seed}")
        alpha_s = self.effective_shower_alpha_s()
        if alpha_s is not None and not 0.06 <= alpha_s <= 0.25:
            raise ConfigError(f"shower_alpha_s must lie in [0.06, 0.25], got {alpha_s}")
        if not self.effective_shower_pt_min() > 0:
            raise ConfigError(f"shower_pt_min must be positive (GeV), got {self.shower_pt_min}")
        if self.hadronization not in HADRONIZATION_MODES:
            raise ConfigError(
                f"hadronization must be one of {HADRONIZATION_MODES}, got {self.hadronization!r}"
            )
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.ml_policy not in ML_POLICIES:
            raise ConfigError(f"ml_policy must be one of {ML_POLICIES}, got {self.ml_policy!r}")
        if not self.flavours or any(f not in (1, 2, 3, 4, 5) for f in self.flavours):
            raise ConfigError(f"flavours must be a non-empty subset of 1..5, got {self.flavours}")
        if self.block_size < 1:
            raise ConfigError(f"block_size must be at least 1, got {self.block_size}")
        if self.model is not None and not Path(self.model).is_file():
            raise ConfigError(f"model file {self.model} does not exist")
        try:
            _core.validate_params(self.cluster_params())
        except (ValueError, TypeError, RuntimeError) as err:
            raise ConfigError(str(err)) from err

    def effective_decay_seed(self) -> int:
        return self.seed if self.decay_seed is None else self.decay_seed

    def effective_shower_pt_min(self) -> float:
        if self.shower_pt_min is not None:
            return self.shower_pt_min
        return float(load_tune(self.tune).get("shower_pt_min", HERWIG_SHOWER_PT_MIN))

    def effective_shower_alpha_s(self) -> float | None:
        if self.shower_alpha_s is not None:
            return self.shower_alpha_s
        value = load_tune(self.tune).get("shower_alpha_s")
        return None if value is None else float(value)

    def cluster_params(self) -> dict[str, float]:
        """Herwig 7.3 defaults, then the tune's values, then this config's overrides."""
        from hadml import _core

        params = dict(_core.default_params())
        tuned = load_tune(self.tune).get("cluster", {})
        for source, values in (("tune " + self.tune, tuned), ("config", self.cluster)):
            unknown = sorted(set(values) - set(params))
            if unknown:
                raise ConfigError(
                    f"unknown cluster parameter(s) {unknown} in the {source}; known: "
                    f"{', '.join(sorted(params))}"
                )
            params.update({k: float(v) for k, v in values.items()})
        return params

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["flavours"] = list(self.flavours)
        return d


_FIELDS = {f.name: f for f in dataclasses.fields(GeneratorConfig)}

#: Herwig 7.3's shower cut-off (GeV), used when neither the config nor the tune sets one.
HERWIG_SHOWER_PT_MIN = 0.655
#: Named tunes: None is Herwig 7.3's defaults, a string a YAML file in hadml/tunes.
TUNES: dict[str, str | None] = {"herwig73": None, "lep": "lep.yaml"}
#: What a tune may set: the shower cut-off and coupling, and cluster parameters.
TUNE_KEYS = {"shower_pt_min", "shower_alpha_s", "cluster"}


@functools.lru_cache(maxsize=16)
def load_tune(tune: str) -> dict[str, Any]:
    """The values of a named tune or tune YAML file: {'shower_pt_min'?, 'cluster'?}."""
    if tune in TUNES:
        if TUNES[tune] is None:
            return {}
        path = Path(__file__).with_name("tunes") / TUNES[tune]
    else:
        path = Path(tune)
        if not path.is_file():
            raise ConfigError(f"tune {tune!r} is neither one of {sorted(TUNES)} nor a file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"tune file {path} cannot be read: {err}") from err
    extra = sorted(set(data) - TUNE_KEYS)
    if not isinstance(data, dict) or extra:
        raise ConfigError(f"tune file {path} may only set {sorted(TUNE_KEYS)}, got {extra}")
    return data


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "float":
            return float(value)
        if kind == "float | None":
            return None if value in (None, "", "default") else float(value)
        if kind == "int":
            return int(value)
        if kind == "int | None":
            return None if value in (None, "", "default") else int(value)
        if kind == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "on", "yes"):
                    return True
                if low in ("0", "false", "off", "no"):
                    return False
                raise ValueError(value)
            return bool(value)
        if name == "flavours":
            if isinstance(value, str):
                value = [v for v in value.replace(",", " ").split() if v]
            return tuple(int(v) for v in value)
        if name == "model":
            return None if value in (None, "", "default") else str(value)
        if name in ("cluster",):
            if not isinstance(value, dict):
                raise ValueError(value)
            return {str(k): float(v) for k, v in value.items()}
        if name == "pythia":
            if isinstance(value, str):
                return [value]
            return [str(v) for v in value]
        return str(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"option {name!r}: cannot use value {value!r} ({kind})") from err


def apply_overrides(config: GeneratorConfig, overrides: dict[str, Any]) -> GeneratorConfig:
    """Return a copy with ``overrides`` applied. Keys are GeneratorConfig fields, cluster
    parameter names (``ClMaxLight``) or ``cluster.<name>``."""
    from hadml import _core

    known_params = set(_core.default_params())
    changes: dict[str, Any] = {}
    cluster = dict(config.cluster)
    pythia = list(config.pythia)
    for key, value in overrides.items():
        name = key[len("cluster."):] if key.startswith("cluster.") else key
        if name in _FIELDS and not key.startswith("cluster."):
            if name == "cluster":
                cluster.update(_coerce("cluster", value))
            elif name == "pythia":
                pythia.extend(_coerce("pythia", value))
            else:
                changes[name] = _coerce(name, value)
        elif name in known_params:
            try:
                cluster[name] = float(value)
            except (TypeError, ValueError) as err:
                raise ConfigError(
                    f"cluster parameter {name!r} needs a number, got {value!r}"
                ) from err
        else:
            raise ConfigError(
                f"unknown option {key!r}. Options: {', '.join(sorted(_FIELDS))}; cluster "
                f"parameters: {', '.join(sorted(known_params))}"
            )
    return dataclasses.replace(config, cluster=cluster, pythia=pythia, **changes)


def parse_set_options(items: list[str]) -> dict[str, str]:
    """``["ClMaxLight=3.6", "ecm=91.2"]`` -> dict; rejects items without ``=``."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set takes key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                base: GeneratorConfig | None = None) -> GeneratorConfig:
    """Read a YAML run configuration (optional) and apply overrides on top."""
    config = base or GeneratorConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of options, got {type(data).__name__}")
        config = apply_overrides(config, data)
    if overrides:
        config = apply_overrides(config, overrides)
    return config
