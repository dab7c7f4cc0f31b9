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
    pythia:              # extra Pythia 8 shower settings, applied last
      - "TimeShower:nGluonToQuark = 5"
"""

from __future__ import annotations

import dataclasses
import functools
import math
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HADRONIZATION_MODES = ("classic", "ml")
DEVICES = ("cpu", "cuda")
ML_POLICIES = ("error", "fallback")

#: Supported sqrt(s) range (GeV). Below: Pythia generates gamma*/Z only above the Z0's
#: lower mass limit (particle data 23:mMin = 10 GeV) and its initialisation fails for
#: sqrt(s) <= 10.01 GeV ("all processes have vanishing cross sections"); 10.1 GeV is the
#: first value run in the tests. Above: the conservation checks of hadml.generator were
#: measured to hold with a large margin up to here (docs/architecture.md).
ECM_MIN = 10.1
ECM_MAX = 1000.0
#: Pythia's allowed ranges of TimeShower:pTmin and TimeShower:alphaSvalue (Pythia clamps
#: values outside them without an error, so hadml refuses them instead).
SHOWER_PT_MIN_RANGE = (0.1, 2.0)
SHOWER_ALPHA_S_RANGE = (0.06, 0.25)
#: The seed used when no source sets one (see GeneratorConfig.seed).
DEFAULT_SEED = 1
#: Configuration and tune files larger than this are refused before parsing.
MAX_FILE_BYTES = 1 << 20


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message says what to fix."""


@dataclass
class GeneratorConfig:
    """Everything that defines a run. Two runs with equal configs and seeds are identical.

    Fields left at None take a documented default; the ML options (``model``, ``device``,
    ``ml_threads``, ``ml_policy``, ``ml_max_fallback_fraction``) must stay None unless
    ``hadronization == "ml"``: an option that would do nothing is an error.
    """

    ecm: float = 91.188
    #: Random seed; None means "not given" (DEFAULT_SEED is used). The seed rule of
    #: hadml.generator.resolve_seed applies: sources that disagree are an error.
    seed: int | None = None
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
    #: ONNX Runtime device for hadronization="ml"; None is "cpu".
    device: str | None = None
    #: ONNX Runtime threads for hadronization="ml"; None is 1.
    ml_threads: int | None = None
    #: What to do with a non-finite / out-of-range model output: "error" or "fallback"
    #: (decay that cluster classically and count it); None is "fallback".
    ml_policy: str | None = None
    #: Largest fraction of ML cluster decays that may fall back to the classic decay
    #: before the run fails naming the model; None is DEFAULT_ML_MAX_FALLBACK_FRACTION.
    ml_max_fallback_fraction: float | None = None
    #: Let Pythia decay the primary hadrons (off: primary hadrons are final).
    decay_hadrons: bool = True
    #: Overrides of the cluster-model parameters (Herwig interface names).
    cluster: dict[str, float] = field(default_factory=dict)
    #: Extra Pythia settings strings for the perturbative stage, applied last; only the
    #: categories in PYTHIA_ALLOWED may be changed (see check_pythia_setting).
    pythia: list[str] = field(default_factory=list)
    #: Events per seeding block (see hadml.generator); changing it changes the events.
    block_size: int = 100

    # -- effective values of the optional fields ---------------------------------------
    @property
    def run_seed(self) -> int:
        return DEFAULT_SEED if self.seed is None else self.seed

    @property
    def run_device(self) -> str:
        return self.device or "cpu"

    @property
    def run_ml_threads(self) -> int:
        return 1 if self.ml_threads is None else self.ml_threads

    @property
    def run_ml_policy(self) -> str:
        return self.ml_policy or "fallback"

    @property
    def run_ml_max_fallback_fraction(self) -> float:
        if self.ml_max_fallback_fraction is None:
            return DEFAULT_ML_MAX_FALLBACK_FRACTION
        return self.ml_max_fallback_fraction

    def validate(self) -> None:
        """Check every field (types and ranges) and their combinations; ConfigError names
        the option."""
        from hadml import _core

        for name in _FIELDS:
            problem = _check_value(name, getattr(self, name))
            if problem:
                raise ConfigError(f"option {name!r}: {problem}")
        alpha_s = self.effective_shower_alpha_s()
        lo, hi = SHOWER_ALPHA_S_RANGE
        if alpha_s is not None and not lo <= alpha_s <= hi:
            raise ConfigError(f"shower_alpha_s must lie in [{lo}, {hi}], got {alpha_s}")
        lo, hi = SHOWER_PT_MIN_RANGE
        if not lo <= self.effective_shower_pt_min() <= hi:
            raise ConfigError(f"shower_pt_min must lie in [{lo}, {hi}] GeV (Pythia's range "
                              f"of TimeShower:pTmin), got {self.effective_shower_pt_min()}")
        if self.hadronization != "ml":
            unused = [n for n in ML_ONLY_OPTIONS if getattr(self, n) is not None]
            if unused:
                raise ConfigError(
                    f"option(s) {', '.join(unused)} only apply to hadronization 'ml', but "
                    f"this run is {self.hadronization!r}: add --hadronization ml (or "
                    "hadronization: ml) or drop them"
                )
        if self.model is not None and not Path(self.model).is_file():
            path = Path(self.model)
            what = ("does not exist" if not path.exists() else
                    "is a directory" if path.is_dir() else "is not a regular file")
            raise ConfigError(f"model file {self.model} {what}")
        try:
            _core.validate_params(self.cluster_params())
        except (ValueError, TypeError, RuntimeError) as err:
            raise ConfigError(str(err)) from err

    def effective_decay_seed(self) -> int:
        return self.run_seed if self.decay_seed is None else self.decay_seed

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

#: Options that only act when hadronization == "ml".
ML_ONLY_OPTIONS = ("model", "device", "ml_threads", "ml_policy", "ml_max_fallback_fraction")
#: Default bound on the fraction of ML cluster decays replaced by the classic decay
#: (the shipped model needs none in 10^4 events; a model with one invalid output in a
#: thousand is broken, not unlucky).
DEFAULT_ML_MAX_FALLBACK_FRACTION = 1e-3

#: Herwig 7.3's shower cut-off (GeV), used when neither the config nor the tune sets one.
HERWIG_SHOWER_PT_MIN = 0.655
#: Named tunes: None is Herwig 7.3's defaults, a string a YAML file in hadml/tunes.
TUNES: dict[str, str | None] = {"herwig73": None, "lep": "lep.yaml"}
#: What a tune may set: the shower cut-off and coupling, and cluster parameters.
TUNE_KEYS = {"shower_pt_min", "shower_alpha_s", "cluster"}

#: Pythia setting categories a `pythia:` entry may change: the shower and couplings of
#: the perturbative stage. Every other category would switch off or replace a part of the
#: pipeline, or do nothing (the beams, the process and its Z decay channels, hadronization
#: and decays, seeding, printing, PDFs ...).
PYTHIA_ALLOWED = ("TimeShower", "SpaceShower", "StandardModel", "SigmaProcess")
#: Why some categories and settings are refused (lower case); the message names the
#: setting and quotes the reason.
PYTHIA_REFUSED_REASONS = {
    "hadronlevel": "hadron level is hadml's cluster stage and its Pythia decays; turning "
                   "Pythia's hadronization on would replace the cluster model",
    "beams": "the beams are e+e- at sqrt(s) = the ecm option; use ecm",
    "pdf": "PDF:lepton is the isr option; use isr",
    "processlevel": "the process e+e- -> gamma*/Z -> q qbar is fixed; use flavours",
    "partonlevel": "the parton level (shower) is a part of the pipeline; it stays on",
    "random": "hadml seeds Pythia per block from the run's seed; use seed",
    "next": "hadml keeps Pythia quiet; the summary and progress bar report the run",
    "print": "hadml keeps Pythia quiet; the summary and progress bar report the run",
    "particledecays": "hadron decays run in hadml's second Pythia instance, which these "
                      "settings do not reach; use decay_hadrons",
    "timeshower:ptmin": "use the shower_pt_min option (it is recorded with the run)",
    "timeshower:alphasvalue": "use the shower_alpha_s option (it is recorded with the run)",
}


def check_pythia_setting(setting: str) -> None:
    """Refuse a `pythia:` entry that would switch off or replace a part of the pipeline
    (ConfigError naming the setting and the reason)."""
    if not isinstance(setting, str):
        raise ConfigError(f"pythia setting {setting!r} is not a string")
    text = setting.strip()
    if not text or not (text[0].isalnum()):
        raise ConfigError(
            f"pythia setting {setting!r} is not a 'Key = value' setting (Pythia would "
            "ignore it)"
        )
    key = text.replace("=", " ").split()[0].lower()
    category = key.split(":")[0]
    if category.isdigit() or category.lstrip("-").isdigit():
        raise ConfigError(
            f"pythia setting {setting!r} is refused: particle data of the perturbative "
            "Pythia would change the process (23:*, quark masses) or do nothing (hadron "
            "decays run in a second Pythia instance)"
        )
    reason = PYTHIA_REFUSED_REASONS.get(key) or PYTHIA_REFUSED_REASONS.get(category)
    if reason is None and key.endswith(":all"):
        reason = "a ':all' switch turns a whole group of processes or steps on or off"
    if reason is None and category not in {c.lower() for c in PYTHIA_ALLOWED}:
        reason = (f"only {', '.join(c + ':*' for c in PYTHIA_ALLOWED)} settings may be "
                  "changed; the others would switch off or replace a part of the pipeline "
                  "(process, beams, hadronization, decays, seeding) or do nothing")
    if reason is not None:
        raise ConfigError(f"pythia setting {setting!r} is refused: {reason}")


def _number(value: Any) -> float:
    """A finite float from a number or a numeric string (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(value)
    return x


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(value)


def _shown(value: Any) -> str:
    """A short repr, bounded in depth and length (a YAML alias bomb would take minutes
    to print whole)."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring = 2, 4, 4, 60
    return short.repr(value)


def _coerce(name: str, value: Any) -> Any:
    """Convert a value from a YAML file or ``--set`` to the field's type (strict: no bool
    as a number, no float as an integer, no list as a string)."""
    kind = str(_FIELDS[name].type)
    optional = kind.endswith("| None")
    unset = value is None or (isinstance(value, str) and value.strip() in ("", "default"))
    if optional and unset:
        return None
    try:
        if name == "flavours":
            if isinstance(value, str):
                value = [v for v in value.replace(",", " ").split() if v]
            if not isinstance(value, (list, tuple)):
                raise ValueError(value)
            return tuple(_integer(v) for v in value)
        if name == "cluster":
            if not isinstance(value, dict):
                raise ValueError(value)
            if not all(isinstance(k, str) for k in value):
                raise ValueError(value)
            return {k: _number(v) for k, v in value.items()}
        if name == "pythia":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
                raise ValueError(value)
            return list(items)
        if kind.startswith("float"):
            return _number(value)
        if kind.startswith("int"):
            return _integer(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "on", "yes"):
                    return True
                if low in ("0", "false", "off", "no"):
                    return False
            raise ValueError(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError, OverflowError) as err:
        raise ConfigError(
            f"option {name!r}: cannot use value {_shown(value)} (needs {kind})") from err


def _check_value(name: str, value: Any) -> str | None:
    """What is wrong with a (coerced) field value, or None: the schema's ranges."""
    if value is None:
        return None if str(_FIELDS[name].type).endswith("| None") else "must be set"
    if name == "ecm" and not ECM_MIN <= value <= ECM_MAX:
        return (f"sqrt(s) must lie in [{ECM_MIN:g}, {ECM_MAX:g}] GeV, got {value} (below "
                f"{ECM_MIN:g} GeV Pythia cannot make e+e- -> gamma*/Z)")
    if name in ("seed", "decay_seed") and not (isinstance(value, int) and 0 <= value < 2**63):
        return f"the {name} must be an integer in [0, 2^63), got {value}"
    if name == "shower_pt_min" and not SHOWER_PT_MIN_RANGE[0] <= value <= SHOWER_PT_MIN_RANGE[1]:
        return (f"must lie in {list(SHOWER_PT_MIN_RANGE)} GeV (Pythia's range of "
                f"TimeShower:pTmin), got {value}")
    if name == "shower_alpha_s" and not SHOWER_ALPHA_S_RANGE[0] <= value <= SHOWER_ALPHA_S_RANGE[1]:
        return f"must lie in {list(SHOWER_ALPHA_S_RANGE)}, got {value}"
    if name == "flavours" and (not value or len(set(value)) != len(value)
                               or any(f not in (1, 2, 3, 4, 5) for f in value)):
        return f"must be a non-empty subset of 1..5 without repeats, got {list(value)}"
    if name == "hadronization" and value not in HADRONIZATION_MODES:
        return f"hadronization must be one of {HADRONIZATION_MODES}, got {_shown(value)}"
    if name == "device" and value not in DEVICES:
        return f"device must be one of {DEVICES}, got {_shown(value)}"
    if name == "ml_policy" and value not in ML_POLICIES:
        return f"ml_policy must be one of {ML_POLICIES}, got {_shown(value)}"
    if name == "ml_threads" and not 1 <= value <= 256:
        return f"must lie in [1, 256], got {value}"
    if name == "ml_max_fallback_fraction" and not 0.0 <= value <= 1.0:
        return f"must lie in [0, 1], got {value}"
    if name == "block_size" and not 1 <= value <= 10_000:
        # A block's events are held in memory until written (about 15 kB each).
        return f"block_size must lie in [1, 10000], got {value}"
    if name == "model" and not value:
        return "must name a file"
    if name == "tune" and not value:
        return "must name a tune or a tune file"
    if name == "pythia":
        for setting in value:
            try:
                check_pythia_setting(setting)
            except ConfigError as err:
                return str(err)
    return None


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the
    last one silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (str, int, float, bool)) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {_shown(key)} is given twice", key_node.start_mark)
        seen.add(key) if isinstance(key, (str, int, float, bool)) else None
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML file holding a mapping, or ConfigError naming the file: missing, not a
    file, too large, not text, not YAML, a key twice, too deep, not a mapping."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"{what} {path} is not a file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"{what} {path} is {size} bytes; at most {MAX_FILE_BYTES} "
                              "are read")
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise ConfigError(f"{what} {path} cannot be read: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path} is not UTF-8 text ({err.reason} at byte "
                          f"{err.start})") from err
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {path} is not valid YAML: {err}") from err
    except RecursionError as err:
        raise ConfigError(f"{what} {path} is nested too deeply") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping of options, got "
                          f"{type(data).__name__}")
    return data


@functools.lru_cache(maxsize=16)
def load_tune(tune: str) -> dict[str, Any]:
    """The values of a named tune or tune YAML file: {'shower_pt_min'?, 'shower_alpha_s'?,
    'cluster'?}, checked against the tune schema (ConfigError names the file and key)."""
    from hadml import _core

    if tune in TUNES:
        if TUNES[tune] is None:
            return {}
        path = Path(__file__).with_name("tunes") / TUNES[tune]
    else:
        path = Path(tune)
        if not path.exists():
            raise ConfigError(f"tune {tune!r} is neither one of {sorted(TUNES)} nor a file")
    data = read_yaml_mapping(path, "tune file")
    out: dict[str, Any] = {}
    for key, value in data.items():
        where = f"tune file {path}: key {_shown(key)}"
        if key not in TUNE_KEYS:
            raise ConfigError(f"{where} is not allowed; a tune may only set "
                              f"{sorted(TUNE_KEYS)}")
        try:
            out[key] = _coerce(key, value)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from err
        problem = _check_value(key, out[key])
        if problem:
            raise ConfigError(f"{where}: {problem}")
    known = _core.default_params()
    for name, value in out.get("cluster", {}).items():
        _check_param(name, value, known, f"tune file {path}: key 'cluster.{name}'")
    return out


def apply_overrides(config: GeneratorConfig, overrides: dict[str, Any],
                    source: str = "overrides") -> GeneratorConfig:
    """Return a copy with ``overrides`` applied. Keys are GeneratorConfig fields, cluster
    parameter names (``ClMaxLight``) or ``cluster.<name>``; each value is checked against
    the schema (ConfigError names the key and ``source``). A seed that disagrees with one
    the config already has is an error (the seed rule, hadml.generator.resolve_seed)."""
    from hadml import _core

    known_params = _core.default_params()
    changes: dict[str, Any] = {}
    cluster = dict(config.cluster)
    pythia = list(config.pythia)
    for key, value in overrides.items():
        if not isinstance(key, str):
            raise ConfigError(f"{source}: key {_shown(key)} is not an option name")
        name = key[len("cluster."):] if key.startswith("cluster.") else key
        where = f"{source}: key {_shown(key)}"
        if name in _FIELDS and not key.startswith("cluster."):
            try:
                coerced = _coerce(name, value)
            except ConfigError as err:
                raise ConfigError(f"{where}: {err}") from err
            problem = _check_value(name, coerced)
            if problem:
                raise ConfigError(f"{where}: {problem}")
            if name == "cluster":
                for param, x in coerced.items():
                    _check_param(param, x, known_params, where)
                cluster.update(coerced)
            elif name == "pythia":
                pythia.extend(coerced)
            elif name == "seed":
                if coerced is not None and config.seed is not None and coerced != config.seed:
                    raise ConfigError(
                        f"{where}: seed {coerced} disagrees with the seed {config.seed} "
                        "already set; give the seed in one place (or the same value)"
                    )
                if coerced is not None:
                    changes["seed"] = coerced
            else:
                changes[name] = coerced
        elif name in known_params:
            try:
                x = _number(value)
            except (TypeError, ValueError) as err:
                raise ConfigError(
                    f"{where}: cluster parameter {name!r} needs a number, got {_shown(value)}"
                ) from err
            _check_param(name, x, known_params, where)
            cluster[name] = x
        else:
            raise ConfigError(
                f"{where}: unknown option {_shown(key)}. Options: {', '.join(sorted(_FIELDS))}; "
                f"cluster parameters: {', '.join(sorted(known_params))}"
            )
    return dataclasses.replace(config, cluster=cluster, pythia=pythia, **changes)


def _check_param(name: str, value: float, known: dict[str, float], where: str) -> None:
    from hadml import _core

    if name not in known:
        raise ConfigError(f"{where}: unknown cluster parameter {name!r}; known: "
                          f"{', '.join(sorted(known))}")
    try:
        _core.validate_params({name: value})
    except (ValueError, TypeError, RuntimeError) as err:
        raise ConfigError(f"{where}: {err}") from err


def parse_set_options(items: list[str]) -> dict[str, str]:
    """``["ClMaxLight=3.6", "ecm=91.2"]`` -> dict; rejects items without ``=`` and a key
    given twice with different values (``pythia`` may repeat: its values accumulate)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set takes key=value, got {item!r}")
        key, value = (part.strip() for part in item.split("=", 1))
        if not key:
            raise ConfigError(f"--set {item!r} has no key")
        if key == "pythia":
            out.setdefault("pythia", []).append(value)
        elif key in out and out[key] != value:
            raise ConfigError(f"--set gives {key!r} twice: {out[key]!r} and {value!r}")
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                base: GeneratorConfig | None = None) -> GeneratorConfig:
    """Read a YAML run configuration (optional) and apply overrides (``--set`` and the
    CLI's options) on top. Errors name the file, or ``--set``, and the key."""
    config = base or GeneratorConfig()
    if path is not None:
        data = read_yaml_mapping(path, "config file")
        config = apply_overrides(config, data, source=f"config file {path}")
    if overrides:
        config = apply_overrides(config, overrides, source="--set/options")
    return config
