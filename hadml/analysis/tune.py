"""Tune the classic cluster model to LEP data with polynomial surrogates (Professor method).

Buckley et al., arXiv:0907.2973. Steps, each a subcommand working on one tuning directory:

``plan``      read a parameter box (YAML), sample points in it (Latin hypercube or uniform,
              at least 4x as many points as polynomial coefficients) and write plan.json.
``run``       run the generator at the planned points (a process pool over points,
              ``--jobs``; ``--slice I/N`` runs every N-th point, so N machines share a
              plan); each point writes points/pNNNN.json (per-bin predictions and MC errors
              of every reference histogram) atomically: finished points are never re-run.
              ``--weights``: points within the validated weight steps of an anchor point
              come from the anchor run's exact variation weights (tune_weights.py).
``collect``   copy the point files of other directories (other machines) into this one.
``fit``       fit per-bin polynomials to the predictions and to their MC errors, minimise
              the surrogate objective with iminuit (MIGRAD, then HESSE), report the
              surrogate's residuals at held-back points, the validation analyses, and write
              the optimum as a tune YAML.
``validate``  a fresh run at the optimum (new seed, the tuning statistics): surrogate-
              predicted against actual objective, per group and for the validation analyses.

Objective (docs/tuning.md): each observable group counts equally,
``F = (1/G) sum_g chi2_g / ndf_g``, with the bin chi2 of ``hadml compare``; the analyses
named as validation stay out of F and are reported separately.

    python -m hadml.analysis.tune plan --box box.yaml -n 2000 \
        -o runs/tune
    python -m hadml.analysis.tune run runs/tune --jobs 16
    python -m hadml.analysis.tune fit runs/tune
    python -m hadml.analysis.tune validate runs/tune --jobs 16
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import math
import multiprocessing
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hadml.io.atomic import write_json_atomically

from .surrogate import (
    SAMPLINGS,
    GroupedChi2,
    MinimumResult,
    Parameter,
    ParameterBox,
    PolynomialSurrogate,
    bin_chi2,
    bootstrap_scale,
    leverage,
    minimise,
    n_coefficients,
    replica_optima,
)

PLAN_VERSION = 1
SHOWER_PARAMETERS = ("shower_pt_min", "shower_alpha_s")

#: Observable groups of the objective; each counts equally.
GROUPS: dict[str, str] = {
    "shapes": "event shapes and jet rates",
    "charged": "charged-particle spectra and multiplicity",
    "identified": "identified-hadron multiplicities and spectra",
    "heavy": "heavy-flavour fragmentation",
}

#: (analysis, regular expression on the histogram name dNN-xNN-yNN, group): the first
#: matching row decides. Analyses that hadml does not implement (yet) never produce
#: histograms, so their rows are simply unused.
GROUP_TABLE: tuple[tuple[str, str, str], ...] = (
    # ALEPH 1996 (Phys. Rept. 294): d01-d08 event shapes, d13-d16 jet rates, d09-d12 and
    # d17 charged spectra, d18-d23 charged multiplicity, d24-d44 identified hadrons.
    ("ALEPH_1996_S3486095", r"d0[1-8]-|d1[3-6]-", "shapes"),
    ("ALEPH_1996_S3486095", r"d09-|d1[0-2]-|d1[7-9]-|d2[0-3]-", "charged"),
    ("ALEPH_1996_S3486095", r"d2[4-9]-|d3\d-|d4[0-4]-", "identified"),
    # PDG multiplicities: charm and charmonium yields (D+-, D0, D_s, D*+-, J/psi,
    # Lambda_c) follow the heavy-flavour parameters; the rest are light hadrons.
    ("PDG_HADRON_MULTIPLICITIES", r"d0[7-9]-|d21-|d25-|d51-", "heavy"),
    ("PDG_HADRON_MULTIPLICITIES", r".", "identified"),
    ("PDG_HADRON_MULTIPLICITIES_RATIOS", r"d0[7-9]-|d21-|d25-|d51-", "heavy"),
    ("PDG_HADRON_MULTIPLICITIES_RATIOS", r".", "identified"),
    ("ALEPH_2004_S5765862", r".", "shapes"),
    ("OPAL_2004_S6132243", r".", "shapes"),
    ("L3_1992_I334954", r".", "shapes"),
    ("DELPHI_1990_I297698", r".", "shapes"),
    ("L3_1990_I298078", r".", "shapes"),
    ("ALEPH_1991_S2435284", r".", "charged"),
    ("DELPHI_1991_I301657", r".", "charged"),
    ("OPAL_1992_I321190", r".", "charged"),
    ("DELPHI_1991_I324035", r".", "charged"),
    ("DELPHI_1992_I334948", r".", "charged"),
    ("L3_1991_I314407", r".", "charged"),
    ("ALEPH_1995_I382179", r".", "identified"),
    ("OPAL_1994_S2927284", r".", "identified"),
    ("ALEPH_2001_S4656318", r".", "heavy"),
    ("DELPHI_2011_I890503", r".", "heavy"),
    ("ALEPH_1999_S4193598", r".", "heavy"),
)

#: Analyses kept out of the fit by default and reported as validation.
DEFAULT_VALIDATION = ("OPAL_2004_S6132243", "DELPHI_2011_I890503")


class TuneError(ValueError):
    """Bad box, plan or tuning directory; the message says what to fix."""


def group_of(histogram_id: str) -> str | None:
    """The observable group of 'ANALYSIS/dNN-xNN-yNN', or None when the table has none."""
    analysis, _, name = histogram_id.partition("/")
    for table_analysis, pattern, group in GROUP_TABLE:
        if table_analysis == analysis and re.match(pattern, name):
            return group
    return None


# --- box and plan -----------------------------------------------------------------------


def tunable_parameters() -> set[str]:
    from hadml import _core

    return set(_core.default_params()) | set(SHOWER_PARAMETERS)


def read_box(path: str | Path) -> tuple[ParameterBox, dict[str, Any], str]:
    """(box, fixed config options, base tune) from a box YAML::

        base: herwig73            # tune the box varies around (name or tune YAML)
        fixed: {PwtSquark: 0.3}   # config options / parameters held fixed (optional)
        parameters:
          - {name: ClMaxLight, low: 2.5, high: 4.0}
          - {name: shower_pt_min, low: 0.6, high: 1.5}
    """
    path = Path(path)
    if not path.is_file():
        raise TuneError(f"box file {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise TuneError(f"box file {path} is not valid YAML: {err}") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("parameters"), list):
        raise TuneError(f"box file {path} needs a list 'parameters' of {{name, low, high}}")
    extra = sorted(set(doc) - {"base", "fixed", "parameters"})
    if extra:
        raise TuneError(f"box file {path}: unknown keys {extra} (allowed: base, fixed, "
                        "parameters)")
    known = tunable_parameters()
    params = []
    for item in doc["parameters"]:
        if not isinstance(item, dict) or set(item) != {"name", "low", "high"}:
            raise TuneError(f"box file {path}: each parameter needs exactly name, low, high; "
                            f"got {item!r}")
        if item["name"] not in known:
            raise TuneError(f"box file {path}: {item['name']!r} is not tunable; tunable: "
                            f"{', '.join(sorted(known))}")
        try:
            params.append(Parameter(str(item["name"]), float(item["low"]), float(item["high"])))
        except (TypeError, ValueError) as err:
            raise TuneError(f"box file {path}: {item['name']}: low/high must be numbers") \
                from err
    try:
        box = ParameterBox(tuple(params))
    except ValueError as err:
        raise TuneError(f"box file {path}: {err}") from err
    fixed = doc.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise TuneError(f"box file {path}: 'fixed' must be a mapping of options")
    both = sorted(set(fixed) & set(box.names))
    if both:
        raise TuneError(f"box file {path}: {both} both fixed and varied")
    return box, dict(fixed), str(doc.get("base", "herwig73"))


def point_config(plan: Mapping[str, Any], values: Mapping[str, float], seed: int):
    """The generator config of one point: base tune, fixed options, point values."""
    from hadml.config import load_config

    return load_config(overrides={"tune": plan["base"], **plan["fixed"], **values,
                                  "hadronization": "classic", "seed": seed})


def default_analyses(refdir: str | Path | None) -> list[str]:
    """Every implemented analysis that has a group row and a reference file."""
    from .analyses import ANALYSES
    from .compare import resolve_refdir

    base = resolve_refdir(refdir)
    grouped = {a for a, _, _ in GROUP_TABLE}
    return [a for a in ANALYSES if a in grouped and (base / f"{a}.yoda").is_file()]


def make_plan(box: ParameterBox, fixed: Mapping[str, Any], base: str, n_events: int,
              order: int = 2, n_points: int | None = None, sampling: str = "lhs",
              seed: int = 1, holdout: float = 0.1, analyses: Sequence[str] = (),
              validation: Sequence[str] = DEFAULT_VALIDATION,
              common_seed: bool = False, oversampling: float = 4.0) -> dict[str, Any]:
    """A tuning plan (JSON-serialisable): the box, the sampled points and the run
    settings. Fails when the fit points (after holdout) are fewer than ``oversampling``
    (4: the tuner's rule; only tests lower it) times the polynomial's coefficients."""
    from hadml.config import ConfigError
    from hadml.generator import derive_seed

    if order not in (2, 3):
        raise TuneError(f"polynomial order must be 2 or 3, got {order}")
    if not 0 <= holdout < 0.5:
        raise TuneError(f"holdout fraction must be in [0, 0.5), got {holdout}")
    if n_events < 1:
        raise TuneError(f"events per point must be positive, got {n_events}")
    if sampling not in SAMPLINGS:
        raise TuneError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    n_coef = n_coefficients(box.dim, order)
    need = math.ceil(oversampling * n_coef)
    minimum = math.ceil(need / (1.0 - holdout))
    while minimum - n_held_back(minimum, holdout) < need:
        minimum += 1
    n_points = minimum if n_points is None else n_points
    n_fit = n_points - n_held_back(n_points, holdout)
    if n_fit < need:
        raise TuneError(f"{n_points} points leave {n_fit} for the fit, fewer than "
                        f"{oversampling:g} x "
                        f"{n_coef} coefficients (order {order}, {box.dim} parameters): "
                        f"use at least {minimum} points")
    if not analyses:
        raise TuneError("no analyses to tune to")
    missing = [a for a in analyses if not any(a == t for t, _, _ in GROUP_TABLE)]
    if missing:
        raise TuneError(f"analyses without an observable group: {missing} (add them to "
                        "GROUP_TABLE in hadml/analysis/tune.py)")
    values = box.sample(n_points, sampling, seed)
    points = []
    for k, row in enumerate(values):
        point = {name: float(v) for name, v in zip(box.names, row, strict=True)}
        point_seed = seed if common_seed else derive_seed(seed, k, "tune-point")
        points.append({"index": k, "seed": point_seed, "values": point})
    plan = {
        "version": PLAN_VERSION,
        "box": [{"name": p.name, "low": p.low, "high": p.high} for p in box.parameters],
        "base": base, "fixed": dict(fixed), "order": order, "sampling": sampling,
        "seed": seed, "n_events": n_events, "holdout": holdout, "common_seed": common_seed,
        "oversampling": oversampling, "analyses": list(analyses),
        "validation": [a for a in validation if a in analyses],
        "points": points,
    }
    try:  # every corner of the box must be a valid configuration
        for corner in (box.low, box.high):
            point_config(plan, dict(zip(box.names, corner.tolist(), strict=True)), 1).validate()
    except ConfigError as err:
        raise TuneError(f"the box does not give valid configurations: {err}") from err
    plan["id"] = plan_id(plan)
    return plan


def plan_id(plan: Mapping[str, Any]) -> str:
    body = {k: v for k, v in plan.items() if k != "id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


def n_held_back(n_points: int, holdout: float) -> int:
    return int(round(holdout * n_points))


def held_back_indices(plan: Mapping[str, Any]) -> set[int]:
    """Points kept out of the polynomial fit to measure the surrogate: a seeded choice."""
    n = len(plan["points"])
    rng = np.random.default_rng([plan["seed"], 7919])
    return {int(i) for i in rng.permutation(n)[:n_held_back(n, plan["holdout"])]}


def box_of(plan: Mapping[str, Any]) -> ParameterBox:
    return ParameterBox(tuple(Parameter(b["name"], b["low"], b["high"]) for b in plan["box"]))


def load_plan(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / "plan.json"
    if not path.is_file():
        raise TuneError(f"{path} not found: make it with `python -m hadml.analysis.tune plan`")
    try:
        plan = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise TuneError(f"{path} is not valid JSON: {err}") from err
    keys = {"box", "base", "fixed", "order", "sampling", "seed", "n_events", "holdout",
            "common_seed", "oversampling", "analyses", "validation", "points"}
    if (not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION
            or not keys <= set(plan) or plan.get("id") != plan_id(plan)):
        raise TuneError(f"{path} is not a plan of this version or was edited by hand")
    return plan


# --- runs -------------------------------------------------------------------------------


def predict(config, n_events: int, analyses: Sequence[str], refdir: str | Path | None,
            jobs: int = 1) -> dict[str, dict[str, list[float]]]:
    """Run the generator and book every histogram of ``analyses`` on the reference bins:
    {histogram id: {'y': [...], 'err': [...]}} (err: the MC statistical error)."""
    import hadml

    from .compare import compare_events

    events = (e.final_state() for e in hadml.iter_events(n_events, seed=config.seed,
                                                         config=config, jobs=jobs))
    res = compare_events({"mc": events}, refs=list(analyses), refdir=refdir, plots=False)
    return {h.id: {"y": h.mc["mc"].y.tolist(), "err": h.mc["mc"].yerr_plus.tolist()}
            for h in res.histos}


def point_path(directory: Path, index: int) -> Path:
    return directory / "points" / f"p{index:04d}.json"


def run_point(plan: Mapping[str, Any], index: int, directory: str | Path,
              refdir: str | Path | None) -> Path:
    """Run one planned point and write its result file; returns the path."""
    directory = Path(directory)
    point = plan["points"][index]
    start = time.perf_counter()
    config = point_config(plan, point["values"], point["seed"])
    histos = predict(config, plan["n_events"], plan["analyses"], refdir)
    doc = {"plan": plan["id"], "index": index, "values": point["values"],
           "seed": point["seed"], "n_events": plan["n_events"],
           "seconds": time.perf_counter() - start, "histograms": histos}
    path = point_path(directory, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, doc)
    return path


def parse_slice(text: str | None) -> tuple[int, int]:
    """'I/N' (1 <= I <= N) -> (I, N); None -> (1, 1)."""
    if text is None:
        return 1, 1
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise TuneError(f"--slice takes I/N with 1 <= I <= N, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def slice_indices(plan: Mapping[str, Any], part: tuple[int, int]) -> list[int]:
    """Point indices of slice I/N: index = I-1 modulo N (every N-th point, so slices of
    an LHS plan cover the box evenly)."""
    i, n = part
    return [p["index"] for p in plan["points"] if p["index"] % n == i - 1]


def run_points(directory: str | Path, refdir: str | Path | None, jobs: int = 1,
               part: tuple[int, int] = (1, 1), log: Callable[[str], None] = print) -> int:
    """Run the points of slice I/N of the plan (indices = I-1 mod N) that have no result
    file yet, ``jobs`` points at a time; returns the number run."""
    directory = Path(directory)
    plan = load_plan(directory)
    todo = [k for k in slice_indices(plan, part) if not point_path(directory, k).is_file()]
    if not todo:
        log("nothing to run: every point of this slice has a result")
        return 0
    log(f"running {len(todo)} points x {plan['n_events']} events with {jobs} processes")
    if jobs == 1:
        for k in todo:
            log(f"  {run_point(plan, k, directory, refdir)}")
        return len(todo)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(run_point, plan, k, directory, refdir) for k in todo]
        for fut in concurrent.futures.as_completed(futures):
            log(f"  {fut.result()}")
    return len(todo)


def collect(directory: str | Path, others: Sequence[str | Path],
            log: Callable[[str], None] = print) -> int:
    """Copy point files of the same plan from other directories; returns how many."""
    directory = Path(directory)
    plan = load_plan(directory)
    copied = 0
    for other in others:
        files = sorted((Path(other) / "points").glob("p*.json"))
        if not files:
            raise TuneError(f"no point files in {other}/points")
        for f in files:
            doc = json.loads(f.read_text())
            if doc.get("plan") != plan["id"]:
                raise TuneError(f"{f} belongs to plan {doc.get('plan')}, not {plan['id']}")
            target = point_path(directory, int(doc["index"]))
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, target)
                copied += 1
    log(f"collected {copied} new point files into {directory}/points")
    return copied


# --- fit --------------------------------------------------------------------------------


@dataclass
class PointTable:
    """Results of the finished points, restricted to the histograms of a plan's analyses
    that have a group and matching binning."""

    indices: list[int]
    values: np.ndarray  # (n, d) physical parameter values
    y: np.ndarray  # (n, B)
    err: np.ndarray  # (n, B)
    histograms: list[tuple[str, int, int]]  # (id, first bin, end bin) into B
    # How each point was made: "direct" (its own run; also "anchor") or "weighted" (an
    # anchor run's variation weights, tune run --weights).
    sources: list[str] = field(default_factory=list)


def load_points(directory: str | Path, plan: Mapping[str, Any]) -> PointTable:
    directory = Path(directory)
    docs = []
    for f in sorted((directory / "points").glob("p*.json")):
        try:
            doc = json.loads(f.read_text())
        except json.JSONDecodeError as err:
            raise TuneError(f"{f} is not valid JSON ({err}): delete it and run again") from err
        if doc.get("plan") != plan["id"]:
            raise TuneError(f"{f} belongs to plan {doc.get('plan')}, not {plan['id']}")
        docs.append(doc)
    if not docs:
        raise TuneError(f"no point results in {directory}/points: run the points first")
    ids = sorted(set.intersection(*(set(d["histograms"]) for d in docs)))
    histograms, start = [], 0
    for hid in ids:
        size = len(docs[0]["histograms"][hid]["y"])
        histograms.append((hid, start, start + size))
        start += size
    y = np.array([[v for hid in ids for v in d["histograms"][hid]["y"]] for d in docs])
    err = np.array([[v for hid in ids for v in d["histograms"][hid]["err"]] for d in docs])
    names = [b["name"] for b in plan["box"]]
    values = np.array([[d["values"][name] for name in names] for d in docs])
    sources = [d.get("source", {}).get("kind", "direct") for d in docs]
    return PointTable([int(d["index"]) for d in docs], values, y, err, histograms, sources)


@dataclass
class Objective:
    """A GroupedChi2 over the bins of a chosen set of histograms (columns into B)."""

    columns: np.ndarray
    chi2: GroupedChi2
    histograms: list[tuple[str, int, int]]  # (id, first, end) into the columns


def build_objective(table: PointTable, analyses: Sequence[str], refdir: str | Path | None,
                    use_groups: bool = True) -> Objective | None:
    """The objective over the histograms of ``analyses``: groups as in GROUP_TABLE
    (``use_groups=False``: one group, i.e. the plain chi2/ndf). None if no histogram."""
    from .compare import load_refs

    refs = load_refs(list(analyses), refdir)
    cols, data, lo, hi, group_names, hist = [], [], [], [], [], []
    mc_err_mean = table.err.mean(axis=0)
    for hid, a, b in table.histograms:
        analysis, _, name = hid.partition("/")
        if analysis not in analyses:
            continue
        group = group_of(hid) if use_groups else "all"
        if group is None:
            continue
        ref = refs[analysis][f"/REF/{analysis}/{name}"]
        if len(ref) != b - a:
            raise TuneError(f"{hid}: {b - a} bins in the runs, {len(ref)} in the reference")
        # Bins without any error (data or MC) are skipped, as hadml compare does.
        use = (ref.yerr_plus > 0) | (ref.yerr_minus > 0) | (mc_err_mean[a:b] > 0)
        first = len(cols)
        for k in np.flatnonzero(use):
            cols.append(a + k)
            data.append(ref.y[k])
            lo.append(ref.yerr_minus[k])
            hi.append(ref.yerr_plus[k])
            group_names.append(group)
        if len(cols) > first:
            hist.append((hid, first, len(cols)))
    if not cols:
        return None
    groups = tuple(g for g in [*GROUPS, "all"] if g in group_names)
    chi2 = GroupedChi2(np.array(data), np.array(lo), np.array(hi),
                       np.array([groups.index(g) for g in group_names]), groups)
    return Objective(np.array(cols), chi2, hist)


def histograms_chi2_ndf(objective: Objective, mc: np.ndarray, mc_err: np.ndarray,
                        pick: Callable[[str], bool], expected_run: bool = False,
                        prediction_var: np.ndarray | None = None) -> float:
    """chi2/ndf over those of the objective's histograms whose id ``pick`` accepts, for a
    prediction ``mc`` +- ``mc_err`` over the objective's columns (the bin chi2 of
    GroupedChi2). ``expected_run``: plus what a run's statistical noise adds on average
    (GroupedChi2.noise_terms): a smooth surrogate's value made comparable with one run's.
    ``prediction_var``: the variance of ``mc`` itself (a polynomial fitted to noisy points
    carries their noise, E[(mc - d)^2] = (true - d)^2 + var); its expected share is
    subtracted, so that the value estimates the chi2 of the noise-free prediction."""
    chi2 = objective.chi2
    bins = np.concatenate([np.arange(a, b) for hid, a, b in objective.histograms if pick(hid)]
                          or [np.zeros(0, dtype=int)])
    if bins.size == 0:
        raise TuneError("no histogram of the objective matches")
    terms = bin_chi2(mc[bins], mc_err[bins], chi2.data[bins], chi2.err_minus[bins],
                     chi2.err_plus[bins])
    total = float(terms.sum())
    if prediction_var is not None:
        side = np.where(mc[bins] > chi2.data[bins], chi2.err_plus[bins], chi2.err_minus[bins])
        var = side**2 + mc_err[bins] ** 2
        total -= float(np.divide(prediction_var[bins], var, out=np.zeros_like(var),
                                 where=var > 0).sum())
    if expected_run:
        total += float(chi2.noise_terms(mc_err)[bins].sum())
    return total / bins.size


@dataclass
class FitResult:
    minimum: MinimumResult
    report: dict[str, Any]
    tune: dict[str, Any]


def fit(directory: str | Path, refdir: str | Path | None, order: int | None = None,
        error_order: int | None = None, n_replicas: int = 50,
        target_events: int | None = None) -> FitResult:
    """Fit the surrogate to the finished points, minimise it, and measure its quality.
    Parameter errors: Hesse of the surrogate chi2 (scaled when chi2_w/ndf > 1) and the
    spread of the optimum over ``n_replicas`` replica surrogates, added in quadrature.

    ``target_events``: minimise the chi2 expected for a run of that many events instead
    of one at the tuning statistics: the MC-error polynomials are scaled by
    sqrt(events per point / target_events) (an MC error falls as 1/sqrt(N)). The MC error
    in the bin chi2's denominator otherwise hides differences that a larger validation
    run resolves (docs/tuning.md). Residuals stay in units of the runs' own errors."""
    plan = load_plan(directory)
    box = box_of(plan)
    order = order or plan["order"]
    error_order = error_order or order
    table = load_points(directory, plan)
    held = held_back_indices(plan)
    is_fit = np.array([i not in held for i in table.indices])
    n_coef = n_coefficients(box.dim, order)
    if is_fit.sum() < plan["oversampling"] * n_coef:
        raise TuneError(f"{is_fit.sum()} finished fit points, fewer than "
                        f"{plan['oversampling']:g} x {n_coef} coefficients (order {order}): "
                        "run the remaining points first")
    fit_names = [a for a in plan["analyses"] if a not in plan["validation"]]
    objective = build_objective(table, fit_names, refdir)
    if objective is None:
        raise TuneError("no histogram of the fit analyses in the point results")
    validation = (build_objective(table, plan["validation"], refdir, use_groups=False)
                  if plan["validation"] else None)
    cols = objective.columns
    all_cols = np.concatenate([cols, validation.columns]) if validation else cols
    pred = PolynomialSurrogate.fit(box, order, table.values[is_fit], table.y[is_fit][:, all_cols])
    err = PolynomialSurrogate.fit(box, error_order, table.values[is_fit],
                                  table.err[is_fit][:, all_cols])
    n_obj = len(cols)
    if target_events is not None and target_events < 1:
        raise TuneError(f"--target-events must be at least 1, got {target_events}")
    target = int(target_events or plan["n_events"])
    err_scale = math.sqrt(plan["n_events"] / target)
    pred_obj = PolynomialSurrogate(box, order, pred.coefficients[:, :n_obj])
    run_err_obj = PolynomialSurrogate(box, error_order, err.coefficients[:, :n_obj])
    err_obj = PolynomialSurrogate(box, error_order, err_scale * err.coefficients[:, :n_obj])

    # Start MIGRAD at the box centre and at the three sampled points the surrogate
    # likes best, against local minima of a cubic.
    at_points = [objective.chi2.objective(pred_obj(v), np.abs(err_obj(v)))
                 for v in table.values]
    starts = [box.from_unit(np.zeros(box.dim))] + [table.values[k]
                                                   for k in np.argsort(at_points)[:3]]
    minimum = minimise(objective.chi2, pred_obj, err_obj, starts)
    best = minimum.values
    surrogate_groups = objective.chi2.per_group(pred_obj(best), np.abs(err_obj(best)))
    replicas = replica_optima(objective.chi2, pred_obj, err_obj, table.values[is_fit],
                              table.y[is_fit][:, cols], [best, *starts], n_replicas,
                              seed=plan["seed"]) if n_replicas > 1 else None
    spread = (replicas.std(axis=0, ddof=1) * bootstrap_scale(int(is_fit.sum()), n_coef)
              if replicas is not None else np.zeros(box.dim))
    actual = _actual_objectives(objective, table)
    noise = objective.chi2.noise_per_group(np.abs(err_obj(best)))

    report: dict[str, Any] = {
        "plan": plan["id"], "order": order, "error_order": error_order,
        "target_events": target,
        "points": {"finished": len(table.indices), "fit": int(is_fit.sum()),
                   "held_back": int((~is_fit).sum()), "coefficients": n_coef,
                   "from_weights": sum(s == "weighted" for s in table.sources)},
        "parameters": {n: {"value": float(v), "hesse": float(e),
                           "hesse_scaled": float(e * minimum.scale_factor),
                           "surrogate": float(r),
                           "total": float(math.hypot(e * minimum.scale_factor, r))}
                       for n, v, e, r in zip(minimum.names, best, minimum.errors, spread,
                                             strict=True)},
        "replicas": n_replicas if replicas is not None else 0,
        "correlation": _correlation(minimum.covariance).tolist(),
        "minimum": {"objective": minimum.objective,
                    "expected_run_objective": minimum.objective
                    + objective.chi2.noise_objective(np.abs(err_obj(best))),
                    "chi2_w": minimum.chi2_w,
                    "bins": minimum.n_bins, "valid": minimum.valid,
                    "at_limit": minimum.at_limit, "scale_factor": minimum.scale_factor},
        "groups": {g: {"chi2": c, "ndf": n, "chi2_ndf": c / n,
                       "expected_run_chi2_ndf": c / n + noise[g]}
                   for g, (c, n) in surrogate_groups.items()},
        # The polynomial carries the points' noise: at the optimum its variance is h times
        # one point's (surrogate.leverage), i.e. that of a run of n_events / h events.
        # Differences a larger validation run resolves below that are not resolved by the fit.
        "resolution": _resolution(box, order, table.values[is_fit], best, plan["n_events"],
                                  target),
        "best_sampled_point": {"index": table.indices[int(np.argmin(actual))],
                               "objective": float(np.min(actual))},
        "fit_histograms": [h for h, _, _ in objective.histograms],
    }
    start_values = base_values(plan)
    if np.all((start_values >= box.low) & (start_values <= box.high)):
        report["base_point"] = {
            "values": dict(zip(box.names, start_values.tolist(), strict=True)),
            "objective": objective.chi2.objective(pred_obj(start_values),
                                                  np.abs(err_obj(start_values)))}
    if validation is not None:
        vp = PolynomialSurrogate(box, order, pred.coefficients[:, n_obj:])
        ve = PolynomialSurrogate(box, error_order, err_scale * err.coefficients[:, n_obj:])
        report["validation"] = _validation_report(validation, vp(best), np.abs(ve(best)))
    report["residuals"] = _residuals(objective, table, is_fit, pred_obj, run_err_obj)
    tune = tune_document(plan, dict(zip(minimum.names, best.tolist(), strict=True)))
    return FitResult(minimum, report, tune)


def _resolution(box: ParameterBox, order: int, fit_points: np.ndarray, best: np.ndarray,
                n_events: int, target: int) -> dict[str, float | bool]:
    h = float(leverage(box, order, fit_points, best))
    equivalent = n_events / h
    return {"leverage": h, "equivalent_events": equivalent,
            "target_resolved": bool(target <= equivalent)}


def base_values(plan: Mapping[str, Any]) -> np.ndarray:
    """The box parameters' values in the base tune with the fixed options (the starting
    point of the tune), from the config the generator would use."""
    config = point_config(plan, {}, 1)
    params = config.cluster_params()
    out = []
    for name in box_of(plan).names:
        if name == "shower_pt_min":
            out.append(config.effective_shower_pt_min())
        elif name == "shower_alpha_s":
            value = config.effective_shower_alpha_s()
            out.append(float("nan") if value is None else value)  # Pythia's own default
        else:
            out.append(params[name])
    return np.array(out, dtype=float)


def _correlation(cov: np.ndarray) -> np.ndarray:
    sig = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    return cov / np.outer(sig, sig)


def _actual_objectives(objective: Objective, table: PointTable) -> np.ndarray:
    c = objective.columns
    return np.array([objective.chi2.objective(table.y[k, c], table.err[k, c])
                     for k in range(len(table.indices))])


def _residuals(objective: Objective, table: PointTable, is_fit: np.ndarray,
               pred: PolynomialSurrogate, err: PolynomialSurrogate) -> dict[str, Any]:
    """Surrogate minus run, in units of the run's MC error, per group: at the fit points
    and at the held-back points (not used in the fit). If the polynomials describe the
    generator, the held-back RMS is about 1 (the run's own noise) and close to the fit
    points' RMS; a larger held-back RMS means the order is too low or the box too wide."""
    c = objective.columns
    pulls = (pred(table.values) - table.y[:, c]) / np.where(table.err[:, c] > 0,
                                                            table.err[:, c], np.inf)
    groups = objective.chi2.groups
    out: dict[str, Any] = {}
    for label, rows in (("fit", is_fit), ("held_back", ~is_fit)):
        if not rows.any():
            continue
        entry = {}
        for gi, g in enumerate(groups):
            p = pulls[rows][:, objective.chi2.group_of_bin == gi]
            entry[g] = float(np.sqrt(np.mean(p**2)))
        entry["all"] = float(np.sqrt(np.mean(pulls[rows] ** 2)))
        out[f"rms_pull_{label}"] = entry
    if (~is_fit).any():
        rows = []
        for k in np.flatnonzero(~is_fit):
            v = table.values[k]
            surrogate = objective.chi2.objective(pred(v), np.abs(err(v)))
            rows.append({"index": table.indices[k], "surrogate": surrogate,
                         "expected_run": surrogate
                         + objective.chi2.noise_objective(np.abs(err(v))),
                         "run": objective.chi2.objective(table.y[k, c], table.err[k, c])})
        out["objective_held_back"] = rows
    return out


def _validation_report(validation: Objective, mc: np.ndarray,
                       mc_err: np.ndarray) -> dict[str, Any]:
    out = {}
    terms_by_hist = {}
    for hid, a, b in validation.histograms:
        data = validation.chi2
        sub = GroupedChi2(data.data[a:b], data.err_minus[a:b], data.err_plus[a:b],
                          np.zeros(b - a, dtype=int), ("all",))
        c, n = sub.per_group(mc[a:b], mc_err[a:b])["all"]
        terms_by_hist[hid] = {"chi2": c, "ndf": n}
    c, n = validation.chi2.per_group(mc, mc_err)["all"]
    out["total"] = {"chi2": c, "ndf": n, "chi2_ndf": c / n}
    out["histograms"] = terms_by_hist
    return out


def tune_document(plan: Mapping[str, Any], optimum: Mapping[str, float]) -> dict[str, Any]:
    """The tune YAML content: base tune's values, then fixed ones, then the optimum; the
    layout of hadml/tunes/lep.yaml (shower keys, cluster mapping)."""
    from hadml import _core
    from hadml.config import load_tune

    base = load_tune(plan["base"])
    doc: dict[str, Any] = {k: v for k, v in base.items() if k in SHOWER_PARAMETERS}
    cluster = dict(base.get("cluster", {}))
    known = set(_core.default_params())
    for key, value in [*plan["fixed"].items(), *optimum.items()]:
        name = key[len("cluster."):] if key.startswith("cluster.") else key
        if name in SHOWER_PARAMETERS:
            doc[name] = float(value)
        elif name in known:
            cluster[name] = float(value)
    doc["cluster"] = {k: round(float(v), 6) for k, v in sorted(cluster.items())}
    for k in SHOWER_PARAMETERS:
        if k in doc:
            doc[k] = round(float(doc[k]), 6)
    return doc


def format_report(report: Mapping[str, Any], plan: Mapping[str, Any]) -> str:
    """The fit report as Markdown."""
    lines = ["# Surrogate tune (Professor method)", "",
             f"Plan {plan['id']}: {len(plan['points'])} points ({plan['sampling']}, seed "
             f"{plan['seed']}), {plan['n_events']} events each, base tune {plan['base']}; "
             f"polynomial order {report['order']} (errors: {report['error_order']}), "
             f"{report['points']['coefficients']} coefficients, "
             f"{report['points']['fit']} fit points, {report['points']['held_back']} held back"
             + (f"; {report['points']['from_weights']} points from an anchor run's variation "
                "weights (tune run --weights, DIR/weights.json)."
                if report["points"].get("from_weights") else "."),
             "", "## Optimum", "",
             "Errors: Hesse of chi2_w = N_bins x F (Delta chi2_w = 1); scaled: times "
             "sqrt(chi2_w / (N_bins - n_par)) when that is above 1; surrogate: standard "
             f"deviation of the optimum over {report['replicas']} bootstrap replicas of the "
             "runs; total: scaled Hesse and surrogate in quadrature.", "",
             "| parameter | value | Hesse | scaled | surrogate | total | box |",
             "|---|---|---|---|---|---|---|"]
    box = {b["name"]: (b["low"], b["high"]) for b in plan["box"]}
    for name, p in report["parameters"].items():
        lo, hi = box[name]
        lines.append(f"| {name} | {p['value']:.4g} | {p['hesse']:.2g} | "
                     f"{p['hesse_scaled']:.2g} | {p['surrogate']:.2g} | {p['total']:.2g} | "
                     f"[{lo:g}, {hi:g}] |")
    m = report["minimum"]
    lines += ["", f"Surrogate objective F = {m['objective']:.3f} (chi2_w {m['chi2_w']:.1f} over "
              f"{m['bins']} bins; MIGRAD {'valid' if m['valid'] else 'NOT valid'}"
              + (f"; at the box edge: {', '.join(m['at_limit'])}" if m["at_limit"] else "")
              + f"). Expected F of one run of {_target(report, plan)} (surrogate plus the "
              f"run's own noise): {m['expected_run_objective']:.3f}. Best sampled point "
              f"(run): F = {report['best_sampled_point']['objective']:.3f} (point "
              f"{report['best_sampled_point']['index']})."
              + (" Surrogate F at the base tune's values ("
                 + ", ".join(f"{k} {v:.4g}" for k, v in report["base_point"]["values"].items())
                 + f"): {report['base_point']['objective']:.3f}."
                 if "base_point" in report else "")]
    res = report.get("resolution")
    if res is not None:
        lines.append(
            f"The polynomials' own noise at the optimum is that of a run of "
            f"{res['equivalent_events']:.0f} events (leverage h = {res['leverage']:.3f} of one "
            f"point's variance): "
            + ("the target statistics are within it." if res["target_resolved"] else
               f"**below the {report['target_events']} targeted**, so the gain the surrogate "
               "predicts for runs that large is not resolved; validate at that size, and use "
               "more events per point or a smaller box to rank candidates (docs/tuning.md)."))
    lines += ["", "## Surrogate chi2/ndf per group at the optimum", "",
              "| group | surrogate chi2/ndf | expected for one run | ndf |",
              "|---|---|---|---|"]
    for g, v in report["groups"].items():
        lines.append(f"| {GROUPS.get(g, g)} | {v['chi2_ndf']:.3f} | "
                     f"{v['expected_run_chi2_ndf']:.3f} | {v['ndf']} |")
    if "validation" in report:
        v = report["validation"]["total"]
        lines += ["", f"## Validation analyses (not fitted): {', '.join(plan['validation'])}",
                  "", f"Surrogate chi2/ndf at the optimum: {v['chi2_ndf']:.3f} "
                  f"({v['chi2']:.1f}/{v['ndf']})."]
    r = report["residuals"]
    lines += ["", "## Surrogate quality: RMS of (surrogate - run) / MC error", "",
              "| group | fit points | held-back points |", "|---|---|---|"]
    for g in r["rms_pull_fit"]:
        held = r.get("rms_pull_held_back", {}).get(g)
        lines.append(f"| {GROUPS.get(g, g)} | {r['rms_pull_fit'][g]:.2f} | "
                     + (f"{held:.2f}" if held is not None else "-") + " |")
    if "objective_held_back" in r:
        lines += ["", "Objective F at the held-back points, surrogate / expected for one "
                  "run / run: " + ", ".join(f"{x['surrogate']:.2f} / {x['expected_run']:.2f} / "
                                            f"{x['run']:.2f}" for x in r["objective_held_back"])]
    return "\n".join(lines) + "\n"


def _target(report: Mapping[str, Any], plan: Mapping[str, Any]) -> str:
    """The statistics the objective was minimised for, as the report states it."""
    target = int(report.get("target_events", plan["n_events"]))
    if target == plan["n_events"]:
        return f"{target} events (the tuning statistics)"
    return f"{target} events (MC errors of the polynomials scaled from {plan['n_events']})"


def write_tune(path: Path, tune: Mapping[str, Any], plan: Mapping[str, Any],
               report: Mapping[str, Any]) -> None:
    m = report["minimum"]
    pars = ", ".join(f"{n} {p['value']:.4g} +- {p['total']:.2g}"
                     for n, p in report["parameters"].items())
    other = {k: v for k, v in plan["fixed"].items()
             if k not in SHOWER_PARAMETERS and not _is_cluster_param(k)}
    header = (f"# hadml classic tune to LEP: surrogate (Professor) fit, plan {plan['id']},\n"
              f"# {len(plan['points'])} points x {plan['n_events']} events, order "
              f"{report['order']}, base tune {plan['base']};\n"
              f"# surrogate objective F = {m['objective']:.3f} (docs/tuning.md).\n"
              f"# {pars}\n")
    if other:
        header += f"# Run with these config options as well: {json.dumps(other)}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(header + yaml.safe_dump(dict(tune), sort_keys=True))
    os.replace(tmp, path)


def _is_cluster_param(key: str) -> bool:
    from hadml import _core

    return key.removeprefix("cluster.") in _core.default_params()


# --- validation run ---------------------------------------------------------------------


def validate(directory: str | Path, refdir: str | Path | None, n_events: int | None = None,
             jobs: int = 1) -> dict[str, Any]:
    """A fresh run at the optimum of fit.json (a seed no point used): actual objective and
    per-group chi2/ndf against the surrogate's prediction. ``n_events`` defaults to the
    statistics the fit minimised for (its ``target_events``)."""
    from hadml.generator import derive_seed

    directory = Path(directory)
    plan = load_plan(directory)
    fit_path = directory / "fit.json"
    if not fit_path.is_file():
        raise TuneError(f"{fit_path} not found: run the fit step first")
    report = json.loads(fit_path.read_text())
    optimum = {n: p["value"] for n, p in report["parameters"].items()}
    # By default the statistics the fit's expectations are for (fit --target-events).
    n_events = n_events or int(report.get("target_events", plan["n_events"]))
    seed = derive_seed(plan["seed"], len(plan["points"]), "tune-validate")
    config = point_config(plan, optimum, seed)
    start = time.perf_counter()
    histos = predict(config, n_events, plan["analyses"], refdir, jobs=jobs)
    ids = sorted(histos)
    spans, at = [], 0
    for hid in ids:
        spans.append((hid, at, at + len(histos[hid]["y"])))
        at += len(histos[hid]["y"])
    table = PointTable([0], np.array([list(optimum.values())]),
                       np.array([[v for h in ids for v in histos[h]["y"]]]),
                       np.array([[v for h in ids for v in histos[h]["err"]]]), spans)
    fit_names = [a for a in plan["analyses"] if a not in plan["validation"]]
    objective = build_objective(table, fit_names, refdir)
    assert objective is not None
    c = objective.columns
    groups = objective.chi2.per_group(table.y[0, c], table.err[0, c])
    out: dict[str, Any] = {
        "events": n_events, "seed": seed, "seconds": time.perf_counter() - start,
        "objective": {"surrogate": report["minimum"]["objective"],
                      "expected_run": report["minimum"]["expected_run_objective"],
                      "run": objective.chi2.objective(table.y[0, c], table.err[0, c])},
        "groups": {g: {"surrogate": report["groups"][g]["chi2_ndf"],
                       "expected_run": report["groups"][g]["expected_run_chi2_ndf"],
                       "run": ch / n}
                   for g, (ch, n) in groups.items()},
    }
    if plan["validation"] and "validation" in report:
        val = build_objective(table, plan["validation"], refdir, use_groups=False)
        if val is not None:
            ch, n = val.chi2.per_group(table.y[0, val.columns], table.err[0, val.columns])["all"]
            out["validation"] = {"surrogate": report["validation"]["total"]["chi2_ndf"],
                                 "run": ch / n}
    write_json_atomically(directory / "validate.json", out)
    return out


def format_validation(v: Mapping[str, Any]) -> str:
    lines = ["", f"## Fresh run at the optimum ({v['events']} events, seed {v['seed']})", "",
             f"Objective F: surrogate {v['objective']['surrogate']:.3f}, expected for one run "
             f"(surrogate plus the run's noise) {v['objective']['expected_run']:.3f}, "
             f"actual run {v['objective']['run']:.3f}.", "",
             "| chi2/ndf | surrogate | expected for one run | run |", "|---|---|---|---|"]
    for g, x in v["groups"].items():
        lines.append(f"| {GROUPS.get(g, g)} | {x['surrogate']:.3f} | "
                     f"{x['expected_run']:.3f} | {x['run']:.3f} |")
    if "validation" in v:
        x = v["validation"]
        lines.append(f"| validation analyses | {x['surrogate']:.3f} | - | {x['run']:.3f} |")
    return "\n".join(lines) + "\n"


# --- command line -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m hadml.analysis.tune", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    refdir = {"default": None, "help": "reference YODA directory (default: $HADML_REFDIR)"}

    p = sub.add_parser("plan", help="sample points in a parameter box; write DIR/plan.json")
    p.add_argument("--box", required=True, help="parameter box YAML (docs/tuning.md)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="tuning directory")
    p.add_argument("-n", "--events", type=int, default=2000, help="events per point")
    p.add_argument("--order", type=int, default=2, choices=(2, 3), help="polynomial order")
    p.add_argument("--points", type=int, default=None,
                   help="number of points (default: 4 x coefficients / (1 - holdout))")
    p.add_argument("--sampling", default="lhs", choices=SAMPLINGS)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--holdout", type=float, default=0.1,
                   help="fraction of points kept out of the fit to test the surrogate")
    p.add_argument("--analyses", default=None,
                   help="comma-separated analyses (default: every implemented one with data)")
    p.add_argument("--validation", default=",".join(DEFAULT_VALIDATION),
                   help="comma-separated analyses kept out of the fit ('' for none)")
    p.add_argument("--common-seed", action="store_true",
                   help="the same seed at every point (default: an independent seed each)")
    p.add_argument("--refdir", **refdir)

    p = sub.add_parser("run", help="run the points of a plan (resumable)")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="points run in parallel (default: all cores)")
    p.add_argument("--slice", default=None, metavar="I/N",
                   help="run only points with index = I-1 mod N (machine I of N; with "
                        "--weights: every N-th unit, an anchor with its points or a direct "
                        "point)")
    p.add_argument("--weights", action="store_true",
                   help="fill points within the validated steps of an anchor point from "
                        "the anchor run's exact variation weights instead of runs of their "
                        "own, where the weights are good (docs/tuning.md); DIR/weights.json "
                        "says which points were weighted and why the others were direct")
    p.add_argument("--refdir", **refdir)

    p = sub.add_parser("collect", help="copy point files of other directories into DIR")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("others", nargs="+", metavar="OTHER_DIR")

    p = sub.add_parser("fit", help="fit the surrogate, minimise it, write the tune")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--order", type=int, default=None, choices=(2, 3),
                   help="polynomial order (default: the plan's)")
    p.add_argument("--error-order", type=int, default=None, choices=(1, 2, 3),
                   help="order of the MC-error polynomials (default: --order)")
    p.add_argument("--replicas", type=int, default=50,
                   help="bootstrap replicas for the surrogate part of the errors (0: none)")
    p.add_argument("--target-events", type=int, default=None, metavar="N",
                   help="minimise the chi2 expected for runs of N events (default: the "
                        "plan's events per point)")
    p.add_argument("-o", "--output", default=None, help="tune YAML (default: DIR/tune.yaml)")
    p.add_argument("--refdir", **refdir)

    p = sub.add_parser("score", help="the tuning objective of each input of a hadml compare "
                                     "report (REPORT_DIR/report.json)")
    p.add_argument("report", metavar="REPORT.json")
    p.add_argument("--validation", default=",".join(DEFAULT_VALIDATION),
                   help="analyses pooled apart as validation ('' for none)")

    p = sub.add_parser("validate", help="fresh run at the optimum: surrogate vs actual")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("-n", "--events", type=int, default=None,
                   help="events (default: the plan's events per point)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--refdir", **refdir)
    return ap


def score_report(report: Mapping, validation: Sequence[str] = DEFAULT_VALIDATION
                 ) -> dict[str, dict[str, float]]:
    """The tuning objective of each input of a ``hadml compare`` report.json: chi2/ndf per
    group (the validation analyses pooled apart as "validation") and F, the mean over the
    groups (the validation analyses not included), as in the fit."""
    out: dict[str, dict[str, float]] = {}
    for label in report["inputs"]:
        sums: dict[str, list[float]] = {}
        for h in report["histograms"]:
            group, result = group_of(h["id"]), h["results"].get(label)
            if group is None or result is None or not result["ndf"]:
                continue
            key = "validation" if h["id"].split("/")[0] in validation else group
            acc = sums.setdefault(key, [0.0, 0.0])
            acc[0] += result["chi2"]
            acc[1] += result["ndf"]
        scores = {k: c / n for k, (c, n) in sums.items()}
        fitted = [v for k, v in scores.items() if k != "validation"]
        scores["F"] = sum(fitted) / len(fitted) if fitted else float("nan")
        out[label] = scores
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from hadml.config import ConfigError

    from .compare import RefDataError

    try:
        return _dispatch(args)
    except (TuneError, ConfigError, RefDataError) as err:
        print(f"tune {args.command}: error: {err}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "plan":
        box, fixed, base = read_box(args.box)
        analyses = (args.analyses.split(",") if args.analyses
                    else default_analyses(args.refdir))
        from .compare import load_refs

        load_refs(analyses, args.refdir)  # fail now, not on every machine later
        validation = [a for a in args.validation.split(",") if a]
        plan = make_plan(box, fixed, base, args.events, args.order, args.points,
                         args.sampling, args.seed, args.holdout, analyses, validation,
                         args.common_seed)
        out = Path(args.output)
        if (out / "plan.json").is_file() and load_plan(out)["id"] != plan["id"]:
            raise TuneError(f"{out}/plan.json holds another plan: choose a new directory")
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomically(out / "plan.json", plan)
        n_coef = n_coefficients(box.dim, args.order)
        print(f"plan {plan['id']}: {len(plan['points'])} points ({n_coef} coefficients, "
              f"{n_held_back(len(plan['points']), args.holdout)} held back) x "
              f"{args.events} events; analyses {', '.join(analyses)} (validation: "
              f"{', '.join(plan['validation']) or 'none'}) -> {out}/plan.json")
    elif args.command == "run":
        if args.jobs < 1:
            raise TuneError(f"--jobs must be at least 1, got {args.jobs}")
        if args.weights:
            from .tune_weights import run_weighted

            run_weighted(args.directory, args.refdir, args.jobs, parse_slice(args.slice))
        else:
            run_points(args.directory, args.refdir, args.jobs, parse_slice(args.slice))
    elif args.command == "collect":
        collect(args.directory, args.others)
    elif args.command == "fit":
        directory = Path(args.directory)
        plan = load_plan(directory)
        result = fit(directory, args.refdir, args.order, args.error_order, args.replicas,
                     args.target_events)
        write_json_atomically(directory / "fit.json", result.report)
        text = format_report(result.report, plan)
        (directory / "report.md").write_text(text)
        output = Path(args.output) if args.output else directory / "tune.yaml"
        write_tune(output, result.tune, plan, result.report)
        print(text)
        print(f"tune written to {output}; report {directory}/report.md")
    elif args.command == "score":
        try:
            report = json.loads(Path(args.report).read_text())
        except (OSError, ValueError) as err:
            raise TuneError(f"cannot read the compare report {args.report}: {err}") from None
        validation = [a for a in args.validation.split(",") if a]
        for label, scores in score_report(report, validation).items():
            groups = ", ".join(f"{k} {v:.2f}" for k, v in scores.items() if k != "F")
            print(f"{label}: F = {scores['F']:.3f} ({groups})")
    elif args.command == "validate":
        v = validate(args.directory, args.refdir, args.events, args.jobs)
        text = format_validation(v)
        report = Path(args.directory) / "report.md"
        if report.is_file():
            report.write_text(report.read_text().split("\n## Fresh run at the optimum")[0]
                              .rstrip("\n") + "\n" + text)
        print(text)
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: tune_weights imports
    # hadml.analysis.tune, and its TuneError must be the class main() catches.
    from hadml.analysis.tune import main as _main

    sys.exit(_main())
