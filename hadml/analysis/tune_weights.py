"""Tuning points from an anchor run's exact variation weights (issue 14, item 3).

``tune run --weights`` (hadml.analysis.tune) fills a planned point from the weighted events
of a run at another point of the plan, its *anchor*, instead of a run of its own, where the
weights are good (docs/variations.md, "Using weights in the tuner"; docs/tuning.md):

1. every box parameter in which the point differs from the anchor has a validated step
   (``hadml.variations.VALIDATED_STEPS``: the cluster parameters whose weights the LEP
   validation passed) and the point is within that step of the anchor in each; a box over
   a shower parameter, a mass or a switch therefore gives direct runs only;
2. neither the point nor its anchor is held back (the held-back points measure the
   surrogate: they must be independent runs);
3. after the anchor run, ``hadml.variations.tuner_weight_problems`` finds nothing: no hard
   boundary, Kish ESS at least half the anchor's events, the step validated. A point that
   fails here is run directly, with the reasons in the report.

Anchors are plan points chosen greedily (the point whose validated neighbourhood holds the
most points not yet covered, ties to the lowest index) and run directly with one variation
per covered point; their own result is exactly that of a plain ``tune run``. A weighted
point's bin values are the anchor's histograms with the point's weights (the ratio
estimators of hadml.analysis.weighted, the same booking as the analyses); its MC errors
are the anchor's errors times, per bin, the ratio of the weighted to the unit-weight
delta-method error, so that every point of a plan carries errors of the same definition
(that of a direct run) and the weights' loss of statistics (about sqrt(N / ESS)).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hadml.io.atomic import write_json_atomically
from hadml.variations import TUNER_MIN_ESS_FRACTION, VALIDATED_STEPS

#: Name of the summary written next to plan.json by ``tune run --weights``.
SUMMARY_FILE = "weights.json"
HELD_BACK = "held back: the points that measure the surrogate must be independent runs"


@dataclass
class Assignment:
    """How one planned point is made: ``direct`` (its own run), ``anchor`` (its own run,
    with the variations of the points it serves) or ``weighted`` (the anchor's events with
    weights); ``reasons`` says why a point is direct."""

    kind: str
    anchor: int | None = None
    reasons: list[str] = field(default_factory=list)


def _within(values: np.ndarray, i: int, widths: np.ndarray) -> np.ndarray:
    """Points within the validated step of point i in every box parameter."""
    return np.all(np.abs(values - values[i]) <= widths * (1 + 1e-9), axis=1)


def assign(plan: Mapping[str, Any], held_back: set[int],
           steps: Mapping[str, float] = VALIDATED_STEPS) -> dict[int, Assignment]:
    """Anchors and weighted points of a plan, before any run (rules 1 and 2 above)."""
    names = [b["name"] for b in plan["box"]]
    n = len(plan["points"])
    out: dict[int, Assignment] = {}
    unweighable = [name for name in names if name not in steps]
    for k in range(n):
        if k in held_back:
            out[k] = Assignment("direct", reasons=[HELD_BACK])
        elif unweighable:
            out[k] = Assignment("direct", reasons=[
                f"box parameter(s) {', '.join(unweighable)} have no validated weight step "
                f"(validated: {', '.join(steps)}): each point needs its own run"])
    free = [k for k in range(n) if k not in out]
    if free:
        values = np.array([[plan["points"][k]["values"][name] for name in names]
                           for k in range(n)], dtype=float)
        widths = np.array([steps[name] for name in names], dtype=float)
        eligible = np.zeros(n, bool)
        eligible[free] = True
        near = {k: np.flatnonzero(_within(values, k, widths) & eligible) for k in free}
        uncovered = set(free)
        while True:
            best, gain = None, 1
            for k in sorted(uncovered):
                g = sum(1 for j in near[k] if j in uncovered)
                if g > gain:
                    best, gain = k, g
            if best is None:
                break
            out[best] = Assignment("anchor")
            uncovered.discard(best)
            for j in near[best]:
                if j in uncovered:
                    out[int(j)] = Assignment("weighted", anchor=best)
                    uncovered.discard(int(j))
        for k in uncovered:
            out[k] = Assignment("direct", reasons=[
                "no other point within the validated steps of it ("
                + ", ".join(f"{name} +-{steps[name]:g}" for name in names) + ")"])
    return out


@dataclass
class Unit:
    """A piece of work: an anchor with the points it serves, or one direct point."""

    index: int
    served: list[int]


def units(assignment: Mapping[int, Assignment]) -> list[Unit]:
    """Work units in index order: each anchor with its weighted points, each direct point."""
    served: dict[int, list[int]] = {}
    for k, a in assignment.items():
        if a.kind == "weighted":
            served.setdefault(a.anchor, []).append(k)
    return [Unit(k, sorted(served.get(k, []))) for k in sorted(assignment)
            if assignment[k].kind in ("anchor", "direct")]


def _overrides(anchor_values: Mapping[str, float], values: Mapping[str, float]
               ) -> dict[str, float]:
    """The point as overrides of the anchor (an identical point: an identity variation)."""
    diff = {k: float(v) for k, v in values.items() if v != anchor_values[k]}
    if not diff:
        first = next(iter(values))
        diff = {first: float(values[first])}
    return diff


def weighted_errors(direct_err: np.ndarray, unit, weighted) -> np.ndarray:
    """MC errors of a weighted point on the direct-run definition: the anchor's errors
    scaled per bin by the weighted over the unit-weight delta-method error (the error of
    one entry for an empty bin, as the analyses give it)."""
    e1, ew = unit.err, weighted.err
    if unit.one_entry is not None:
        o1, ow = unit.one_entry, weighted.one_entry
        e1 = np.where(unit.entries > 0, e1, o1)
        ew = np.where(weighted.entries > 0, ew, ow)
    ratio = np.divide(ew, e1, out=np.ones_like(ew), where=e1 > 0)
    return np.asarray(direct_err) * ratio


def run_anchor(plan: Mapping[str, Any], anchor: int, served: Sequence[int],
               refdir: str | Path | None,
               steps: Mapping[str, float] = VALIDATED_STEPS,
               min_ess_fraction: float = TUNER_MIN_ESS_FRACTION
               ) -> tuple[dict, dict[int, dict], dict[int, list[str]]]:
    """Run the anchor with one variation per served point. Returns the anchor's point
    document (as a direct run writes it), the documents of the served points whose weights
    pass ``tuner_weight_problems``, and the problems of the others (they need direct runs)."""
    from hadml.generator import Generator, run_blocks
    from hadml.variations import Variation, reports, tuner_weight_problems

    from .compare import analyse, load_refs
    from .tune import point_config
    from .weighted import EntryTracker, book_weighted_columns

    start = time.perf_counter()
    point = plan["points"][anchor]
    config = point_config(plan, point["values"], point["seed"])
    anchor_values = point["values"]
    overrides = {j: _overrides(anchor_values, plan["points"][j]["values"]) for j in served}
    variations = [Variation(f"p{j:04d}", overrides[j]) for j in served]
    gen = Generator(config, variations)
    weight_blocks: list[np.ndarray] = []

    def events():
        for block in run_blocks(config, plan["n_events"], generator=gen):
            w = np.ones((len(block.events), 1)) if block.weights is None else \
                np.column_stack([np.ones(len(block.events)), block.weights])
            weight_blocks.append(w)
            for ev, row in zip(block.events, w, strict=True):
                fs = ev.final_state()
                fs["weights"] = row
                yield fs

    refs = load_refs(list(plan["analyses"]), refdir)
    tracker = EntryTracker()
    skipped: dict[str, str] = {}
    booked, _, analyses = analyse(events(), refs, None, None, skipped, tracker)
    direct = {f"{a}/{name}": (mc.y, mc.yerr_plus) for a, items in booked.items()
              for name, (_, mc) in items.items()}
    base = {"plan": plan["id"], "n_events": plan["n_events"]}
    anchor_doc = {**base, "index": anchor, "values": anchor_values, "seed": point["seed"],
                  "histograms": {h: {"y": y.tolist(), "err": e.tolist()}
                                 for h, (y, e) in direct.items()}}
    W = np.concatenate(weight_blocks) if weight_blocks else np.ones((0, 1 + len(served)))
    problems: dict[int, list[str]] = {}
    good: list[tuple[int, int, float]] = []  # (point, weight column, ESS fraction)
    for c, (j, rep) in enumerate(zip(served, reports(gen.variation_info, W[:, 1:]),
                                     strict=True), start=1):
        found = tuner_weight_problems(rep, overrides[j], anchor_values, steps,
                                      min_ess_fraction)
        if found:
            problems[j] = found
        else:
            good.append((j, c, rep.ess / max(rep.n_events, 1)))
    docs: dict[int, dict] = {}
    if good:
        columns = [0, *(c for _, c, _ in good)]
        histos = book_weighted_columns(analyses, tracker, refs, columns)
        for j, c, ess in good:
            hist = {}
            for key, (_, e_direct) in direct.items():
                unit, weighted = histos[0][key][2], histos[c][key][2]
                hist[key] = {"y": weighted.y.tolist(),
                             "err": weighted_errors(e_direct, unit, weighted).tolist()}
            docs[j] = {**base, "index": j, "values": plan["points"][j]["values"],
                       "seed": point["seed"], "histograms": hist,
                       "source": {"kind": "weighted", "anchor": anchor,
                                  "ess_fraction": ess}}
    seconds = time.perf_counter() - start
    anchor_doc["seconds"] = seconds
    anchor_doc["source"] = {"kind": "anchor", "served": sorted(docs)}
    for d in docs.values():
        d["seconds"] = 0.0  # the anchor's run time is counted once, in the anchor's file
    return anchor_doc, docs, problems


def run_unit(plan: Mapping[str, Any], unit: Unit, directory: str | Path,
             refdir: str | Path | None, reasons: Mapping[int, list[str]],
             steps: Mapping[str, float] = VALIDATED_STEPS,
             min_ess_fraction: float = TUNER_MIN_ESS_FRACTION) -> dict[int, dict]:
    """Run one unit and write the point files it lacks; returns {point: summary entry}."""
    from .tune import point_path, run_point

    directory = Path(directory)
    done: dict[int, dict] = {}

    def write(doc: dict) -> dict:
        """Write ``doc`` unless the point has a file (an earlier run's); returns the
        source of the file the point now has."""
        path = point_path(directory, doc["index"])
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file():
            return json.loads(path.read_text()).get("source", {"kind": "direct",
                                                               "reasons": ["an earlier run"]})
        write_json_atomically(path, doc)
        return doc["source"]

    def direct(k: int, why: list[str]) -> None:
        if not point_path(directory, k).is_file():
            path = run_point(plan, k, directory, refdir)
            doc = json.loads(path.read_text())
            doc["source"] = {"kind": "direct", "reasons": why}
            write_json_atomically(path, doc)
        done[k] = {"kind": "direct", "reasons": why}

    if not unit.served:
        direct(unit.index, list(reasons.get(unit.index, [])))
        return done
    anchor_doc, docs, problems = run_anchor(plan, unit.index, unit.served, refdir, steps,
                                            min_ess_fraction)
    write(anchor_doc)
    done[unit.index] = {"kind": "anchor", "served": anchor_doc["source"]["served"],
                        "seconds": anchor_doc["seconds"]}
    for j, doc in docs.items():
        source = write(doc)
        if source.get("kind") == "weighted":
            done[j] = {"kind": "weighted", "anchor": source["anchor"],
                       "ess_fraction": source["ess_fraction"]}
        else:  # made earlier by a plain run: the summary says what the file holds
            done[j] = {"kind": "direct", "reasons": source.get("reasons", ["an earlier run"])}
    for j, found in problems.items():
        direct(j, [f"weights from anchor {unit.index} not usable: {p}" for p in found])
    return done


def run_weighted(directory: str | Path, refdir: str | Path | None, jobs: int = 1,
                 part: tuple[int, int] = (1, 1), log: Callable[[str], None] = print,
                 steps: Mapping[str, float] = VALIDATED_STEPS,
                 min_ess_fraction: float = TUNER_MIN_ESS_FRACTION) -> dict[str, Any]:
    """``tune run --weights``: the units of slice I/N (unit number = I-1 mod N) with a
    point lacking its file, ``jobs`` units at a time. Writes and returns the summary
    (DIR/weights.json: how each point was made and why)."""
    import concurrent.futures
    import multiprocessing

    from .tune import held_back_indices, load_plan, point_path

    directory = Path(directory)
    plan = load_plan(directory)
    assignment = assign(plan, held_back_indices(plan), steps)
    reasons = {k: a.reasons for k, a in assignment.items()}
    i, n = part
    todo = [u for m, u in enumerate(units(assignment)) if m % n == i - 1
            and any(not point_path(directory, k).is_file() for k in [u.index, *u.served])]
    summary_path = directory / SUMMARY_FILE
    summary = _read_summary(summary_path, plan["id"])
    start = time.perf_counter()
    n_weighted = sum(a.kind == "weighted" for a in assignment.values())
    log(f"running {len(todo)} units ({sum(1 + len(u.served) for u in todo)} points, "
        f"{n_weighted} of the plan's {len(assignment)} points planned from anchor weights) "
        f"x {plan['n_events']} events with {jobs} processes")
    results: list[dict[int, dict]] = []
    if jobs == 1 or len(todo) <= 1:
        for u in todo:
            results.append(run_unit(plan, u, directory, refdir, reasons, steps,
                                    min_ess_fraction))
            log(f"  unit {u.index}: " + _describe(results[-1]))
    else:
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [pool.submit(run_unit, plan, u, directory, refdir, reasons, steps,
                                   min_ess_fraction) for u in todo]
            for fut in concurrent.futures.as_completed(futures):
                results.append(fut.result())
                log("  " + _describe(results[-1]))
    for r in results:
        summary["points"].update({str(k): v for k, v in r.items()})
    summary["seconds"] = summary.get("seconds", 0.0) + time.perf_counter() - start
    counts: dict[str, int] = {}
    for v in summary["points"].values():
        counts[v["kind"]] = counts.get(v["kind"], 0) + 1
    summary["counts"] = counts
    write_json_atomically(summary_path, summary)
    log(format_summary(summary, len(assignment)))
    return summary


def _read_summary(path: Path, plan_id: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
        if doc.get("plan") == plan_id and isinstance(doc.get("points"), dict):
            return doc
    except (OSError, ValueError):
        pass
    return {"plan": plan_id, "points": {}}


def _describe(result: Mapping[int, dict]) -> str:
    return ", ".join(f"p{k:04d} {v['kind']}" + (f" (from p{v['anchor']:04d}, ESS "
                                                  f"{100 * v['ess_fraction']:.0f}%)"
                                                  if v["kind"] == "weighted" else "")
                     for k, v in sorted(result.items()))


def format_summary(summary: Mapping[str, Any], n_points: int) -> str:
    """Which points were weighted, from which anchor, and why the others were direct."""
    pts = {int(k): v for k, v in summary["points"].items()}
    c = summary.get("counts", {})
    lines = [f"{len(pts)} of {n_points} points made: {c.get('anchor', 0)} anchor runs, "
             f"{c.get('weighted', 0)} points from anchor weights, {c.get('direct', 0)} "
             f"other direct runs ({summary.get('seconds', 0.0):.0f} s)"]
    for k, v in sorted(pts.items()):
        if v["kind"] == "weighted":
            lines.append(f"  p{k:04d}: weighted from anchor p{v['anchor']:04d} "
                         f"(Kish ESS {100 * v['ess_fraction']:.1f}% of its events)")
        elif v["kind"] == "anchor":
            lines.append(f"  p{k:04d}: anchor run, serves {len(v['served'])} points")
        else:
            lines.append(f"  p{k:04d}: direct: {'; '.join(v['reasons']) or 'no reason'}")
    return "\n".join(lines)
