"""Exact parameter-variation weights of the cluster stage (docs/variations.md).

A variation is a name and cluster-parameter overrides on top of the run's nominal
parameters. The C++ cluster stage (cpp_plugin/src/Variations.cpp) multiplies, for every
random choice it makes, the probability of the drawn outcome at the varied point over that
at the nominal point (Bierlich et al., arXiv:2308.13459); each event then carries one weight
per variation, written as named HepMC3 weights and as ``weight_<name>`` columns of the
cluster table.

A variations file (YAML) is a list of entries, each a ``name`` and parameter values::

    variations:
      - name: ClSmrLight_up
        ClSmrLight: 0.9
      - name: PwtSquark_down
        PwtSquark: 0.32

(a bare list without the ``variations:`` key is accepted too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from hadml.config import MAX_FILE_BYTES, ConfigError

#: Name of the weight of the nominal point (always 1) in HepMC3 outputs.
NOMINAL_WEIGHT_NAME = "nominal"
#: Prefix of the weight columns of the cluster table.
WEIGHT_COLUMN_PREFIX = "weight_"
#: Variation names: usable as HepMC3 weight names and Parquet column names.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
#: Below this Kish effective sample size per generated event, a variation's weights are
#: flagged as poor (docs/variations.md).
POOR_ESS_FRACTION = 0.1


@dataclass(frozen=True)
class Variation:
    name: str
    overrides: dict[str, float] = field(default_factory=dict)


def parse_variations(data: object, source: str) -> list[Variation]:
    """Variations from parsed YAML (see the module docstring); ConfigError naming
    ``source`` and the entry for anything malformed. Parameter names and values are
    checked by the C++ stage when the generator is built."""
    if isinstance(data, dict) and set(data) == {"variations"}:
        data = data["variations"]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{source}: expected a non-empty list of variations (entries with "
                          "'name' and parameter values), optionally under 'variations:'")
    out: list[Variation] = []
    seen: set[str] = set()
    for k, entry in enumerate(data, 1):
        where = f"{source}: variation {k}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with 'name' and parameters, "
                              f"got {entry!r}")
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{where}: 'name' must be 1-64 characters of letters, digits, "
                              f"'_', '.', '+', '-' (starting with a letter or digit), got "
                              f"{name!r}")
        if name == NOMINAL_WEIGHT_NAME:
            raise ConfigError(f"{where}: the name '{NOMINAL_WEIGHT_NAME}' is reserved for "
                              "the nominal weight")
        if name in seen:
            raise ConfigError(f"{where}: the name '{name}' is used twice")
        seen.add(name)
        overrides: dict[str, float] = {}
        for key, value in entry.items():
            if key == "name":
                continue
            if not isinstance(key, str):
                raise ConfigError(f"{where} ({name}): parameter names must be strings, got "
                                  f"{key!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ConfigError(f"{where} ({name}): {key} must be a finite number, got "
                                  f"{value!r}")
            overrides[key] = float(value)
        if not overrides:
            raise ConfigError(f"{where} ({name}): no parameter is varied")
        out.append(Variation(name, overrides))
    return out


def load_variations(path: str | Path) -> list[Variation]:
    """Read a variations YAML file (module docstring); ConfigError if it is unreadable or
    malformed."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"variations file {path} is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read variations file {path}: "
                          f"{err.strerror or err}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"variations file {path} is not valid YAML: {err}") from err
    return parse_variations(data, f"variations file {path}")


def as_pairs(variations: Sequence[Variation]) -> list[tuple[str, dict[str, float]]]:
    """The form ``_core.ClusterHadronizer.set_variations`` takes."""
    return [(v.name, dict(v.overrides)) for v in variations]


def weight_names(variations: Sequence[Variation]) -> list[str]:
    """HepMC3 weight names of a run: the nominal weight first, then each variation."""
    return [NOMINAL_WEIGHT_NAME, *(v.name for v in variations)]


def kish_ess(weights: np.ndarray) -> float:
    """Kish effective sample size (sum w)^2 / sum w^2 of one variation's weights."""
    w = np.asarray(weights, dtype=float)
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


@dataclass
class VariationReport:
    """Per-variation summary of a run: sum of weights, Kish ESS, what the weights cover
    and why they may be unreliable."""

    name: str
    groups: list[str]
    hard_boundaries: list[str]
    n_events: int
    sum_w: float
    ess: float

    @property
    def reliable(self) -> bool:
        return not self.hard_boundaries and self.ess >= POOR_ESS_FRACTION * self.n_events

    def text(self) -> str:
        frac = self.ess / self.n_events if self.n_events else float("nan")
        flag = "" if self.reliable else "  UNRELIABLE: " + "; ".join(
            self.hard_boundaries or [f"effective sample size below "
                                     f"{POOR_ESS_FRACTION:.0%} of the events"])
        return (f"{self.name:24s} <w> = {self.sum_w / max(self.n_events, 1):.4f}  "
                f"Kish ESS = {self.ess:.0f} ({100 * frac:.1f}%)  [{', '.join(self.groups)}]"
                f"{flag}")


def reports(info: Sequence[dict], weights: np.ndarray) -> list[VariationReport]:
    """Summaries from ``variation_info()`` and the (n_events, n_variations) weights."""
    w = np.asarray(weights, dtype=float).reshape(-1, len(info))
    return [VariationReport(d["name"], list(d["groups"]), list(d["hard_boundaries"]),
                            len(w), float(w[:, k].sum()), kish_ess(w[:, k]))
            for k, d in enumerate(info)]


# -- the surrogate tuner (issue 14, item 3; docs/variations.md, "Using weights in the tuner") --

#: A tuning point may be served by an anchor run's weighted events when the Kish ESS of its
#: weights is at least this fraction of the anchor's events: its MC errors are then at most
#: sqrt(2) times those of a direct run of the same length.
TUNER_MIN_ESS_FRACTION = 0.5
#: Largest steps from the anchor (either direction) that the LEP validation of the weights
#: against direct runs has passed (docs/variations.md, "Validation on the LEP analyses").
VALIDATED_STEPS = {"ClSmrLight": 0.15, "ClPowLight": 0.3, "PSplitLight": 0.05,
                   "PwtSquark": 0.04, "PwtDIquark": 0.04, "ClMaxLight": 0.15}


def step_problems(overrides: Mapping[str, float], anchor: Mapping[str, float],
                  steps: Mapping[str, float] = VALIDATED_STEPS) -> list[str]:
    """Why ``overrides`` are not within a validated step of the ``anchor`` values (the
    step rule of :func:`tuner_weight_problems`, also used before any run to choose the
    anchors); an empty list: every parameter is within its step."""
    problems = []
    for name, value in sorted(overrides.items()):
        if name not in steps:
            problems.append(f"{name}: no validated step (validated: "
                            f"{', '.join(steps)})")
            continue
        if name not in anchor:
            problems.append(f"{name}: the anchor's value is not given")
            continue
        step = abs(value - anchor[name])
        if step > steps[name] * (1 + 1e-9):
            problems.append(f"{name}: step {step:.4g} from the anchor is larger than the "
                            f"validated {steps[name]:g}")
    return problems


def tuner_weight_problems(report: VariationReport, overrides: Mapping[str, float],
                          anchor: Mapping[str, float],
                          steps: Mapping[str, float] = VALIDATED_STEPS,
                          min_ess_fraction: float = TUNER_MIN_ESS_FRACTION) -> list[str]:
    """Why a tuning point (``overrides`` on the ``anchor`` run's cluster parameters, with
    the ``report`` of its weights in that run) must be a direct run rather than the anchor's
    weighted events; an empty list: the weights may replace the run. Parameters the weights
    cannot vary at all (the shower, masses, switches) never get here: the generator
    refuses them as variations (ConfigError), so such points need their own anchor.
    ``steps`` and ``min_ess_fraction`` default to the validated steps and the tuner's ESS
    rule (tests pass others to reach every branch cheaply)."""
    problems = [f"hard boundary: {b}" for b in report.hard_boundaries]
    if report.ess < min_ess_fraction * report.n_events:
        problems.append(f"Kish ESS {report.ess:.0f} is below {min_ess_fraction:.0%} of "
                        f"the anchor's {report.n_events} events")
    return problems + step_problems(overrides, anchor, steps)
