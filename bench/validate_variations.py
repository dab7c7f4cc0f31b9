"""Validation of the exact variation weights on every shared LEP analysis (issue 14).

For each variation: the nominal sample weighted to the varied point against a direct run
at that point, histogram by histogram, with the covariance two-sample chi2 of
hadml.analysis.weighted; and, to calibrate the statistic, the nominal sample against an
independent nominal run. The samples are made one after the other (one process, one
core); each one's weighted histograms (bin values, covariance, raw entries, for every
weight column it needs) are saved to ``OUT/samples/NAME.npz`` as soon as it is done, so an
interrupted run resumes with the next sample, and the report (``results.json``,
``summary.md``) is rewritten after every sample from what exists.

    PYTHONPATH=. python bench/validate_variations.py --events 50000 --out validation/variations
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from hadml.analysis.analyses import ANALYSES
from hadml.analysis.compare import load_refs
from hadml.analysis.weighted import (
    EntryTracker,
    WeightedHisto,
    book_weighted,
    chi2_two_histograms,
)
from hadml.config import load_config
from hadml.generator import Generator
from hadml.variations import Variation, kish_ess

#: The six parameters of the issue, each moved by about its LEP-tune uncertainty
#: (hadml/tunes/lep.yaml) or, where that is small, by a step that moves the observables.
STEPS = {
    "ClSmrLight": 0.15,
    "ClPowLight": 0.3,
    "PSplitLight": 0.05,
    "PwtSquark": 0.04,
    "PwtDIquark": 0.04,
    "ClMaxLight": 0.15,
}


def variations(nominal: dict[str, float]) -> list[Variation]:
    out = []
    for name, step in STEPS.items():
        for tag, sign in (("down", -1), ("up", 1)):
            out.append(Variation(f"{name}_{tag}", {name: round(nominal[name] + sign * step, 6)}))
    return out


BLOCK = 100


def make_sample(seed: int, overrides: dict[str, float], varied: list[Variation] | None,
                n_events: int, refs) -> tuple[dict, EntryTracker, dict[str, float]]:
    """Generate ``n_events`` and fill every shared LEP analysis, tracking which event each
    value came from; column 0 of the tracker is the unit weight, then the variations."""
    cfg = load_config(overrides={"seed": seed, "block_size": BLOCK, **overrides})
    gen = Generator(cfg, varied)
    analyses = {name: ANALYSES[name]() for name in refs}
    tracker = EntryTracker()
    seconds = {"generate": 0.0, "analyse": 0.0}
    for b in range(n_events // BLOCK):
        t0 = time.process_time()
        res = gen.run_block(b, BLOCK, b * BLOCK)
        t1 = time.process_time()
        for k, ev in enumerate(res.events):
            fs = ev.final_state()
            w = [1.0] if res.weights is None else [1.0, *res.weights[k]]
            e = tracker.add_event(np.asarray(w))
            for name, a in analyses.items():
                tracker.before_fill(name, a)
                a.fill(fs, None)
                tracker.after_fill(name, a, e)
        seconds["generate"] += t1 - t0
        seconds["analyse"] += time.process_time() - t1
    return analyses, tracker, seconds


def save_sample(path: Path, analyses, tracker: EntryTracker, refs, columns: list[str],
                seconds: dict[str, float]) -> None:
    """The weighted histograms of every weight column (``columns`` names them) and the
    weights themselves, written atomically."""
    arrays: dict[str, np.ndarray] = {"weights": tracker.weight_matrix(),
                                     "columns": np.array(columns),
                                     "seconds": np.array([seconds["generate"],
                                                          seconds["analyse"]])}
    for c, col in enumerate(columns):
        for key, (hd, _, h) in book_weighted(analyses, tracker, refs, c).items():
            arrays[f"{col}|{key}|y"] = h.y
            arrays[f"{col}|{key}|cov"] = h.cov
            arrays[f"{col}|{key}|entries"] = h.entries
            arrays[f"obs|{key}"] = np.array(hd.observable)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


class Saved:
    """A saved sample: weighted histograms per column."""

    def __init__(self, path: Path) -> None:
        z = np.load(path)
        self.data = {k: z[k] for k in z.files}
        self.columns = [str(c) for c in self.data["columns"]]
        self.weights = self.data["weights"]
        self.n = len(self.weights)
        self.seconds = self.data["seconds"].tolist()

    def histos(self, column: str) -> dict[str, tuple[str, WeightedHisto]]:
        out = {}
        for k in self.data:
            if k.startswith(f"{column}|") and k.endswith("|y"):
                key = k[len(column) + 1:-2]
                out[key] = (str(self.data[f"obs|{key}"]), WeightedHisto(
                    self.data[k], self.data[f"{column}|{key}|cov"],
                    self.data[f"{column}|{key}|entries"]))
        return out


def compare(a, b) -> list[dict]:
    rows = []
    for key, (obs, ha) in a.items():
        if key not in b:
            continue
        r = chi2_two_histograms(ha, b[key][1])
        if r.ndf:
            rows.append({"histogram": key, "observable": obs, "chi2": r.chi2,
                         "ndf": r.ndf, "p": r.p})
    return rows


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): how surprising k failures of n independent tests
    at level p are."""
    def log_pmf(j: int) -> float:
        return (math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
                + j * math.log(p) + (n - j) * math.log1p(-p))

    return max(0.0, 1.0 - sum(math.exp(log_pmf(j)) for j in range(k)))


def report(out: Path, varied: list[Variation], info: dict) -> dict | None:
    sdir = out / "samples"
    if not (sdir / "nominal.npz").exists():
        return None
    nominal = Saved(sdir / "nominal.npz")
    nom0 = nominal.histos("nominal")
    W = nominal.weights
    result: dict = {"info": info, "n_events": {"nominal": nominal.n},
                    "seconds": {"nominal": nominal.seconds}, "variations": {}}
    if (sdir / "null.npz").exists():
        null = Saved(sdir / "null.npz")
        result["n_events"]["null"] = null.n
        result["seconds"]["null"] = null.seconds
        result["null"] = compare(nom0, null.histos("nominal"))
    for k, v in enumerate(varied, start=1):
        entry: dict = {"overrides": v.overrides, "kish_ess": kish_ess(W[:, k]),
                       "mean_w": float(W[:, k].mean()), "max_w": float(W[:, k].max())}
        if (sdir / f"{v.name}.npz").exists():
            direct = Saved(sdir / f"{v.name}.npz")
            result["n_events"][v.name] = direct.n
            result["seconds"][v.name] = direct.seconds
            dh = direct.histos("nominal")
            entry["rows"] = compare(nominal.histos(v.name), dh)
            # The direct run against the unweighted nominal: do the histograms see it?
            entry["unweighted"] = compare(nom0, dh)
        result["variations"][v.name] = entry
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "summary.md").write_text(summary(result))
    return result


def _stats(rows: list[dict]) -> tuple[int, int, float, float]:
    p = np.array([r["p"] for r in rows])
    if not len(p):
        return 0, 0, float("nan"), float("nan")
    return len(p), int(np.sum(p < 0.01)), float(np.mean(p < 0.05)), float(p.min())


def summary(result: dict) -> str:
    n = result["n_events"]
    lines = [f"# Variation weights vs direct runs ({n['nominal']} nominal events, "
             f"{min([v for k, v in n.items() if k != 'nominal'] or [0])} per direct run)", "",
             "| comparison | Kish ESS | <w> | max w | histograms | p < 0.01 (expected) | "
             "P(>= that) | frac p < 0.05 | min p | unweighted: p < 0.01 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    total_h = total_bad = 0
    if "null" in result:
        h, bad, f05, pmin = _stats(result["null"])
        lines.append(f"| null: nominal vs nominal (other seed) | - | - | - | {h} | {bad} "
                     f"({0.01 * h:.2f}) | {binomial_tail(bad, h, 0.01):.2f} | {f05:.3f} | "
                     f"{pmin:.3g} | - |")
    for name, v in result["variations"].items():
        if "rows" not in v:
            lines.append(f"| {name} {v['overrides']} | {v['kish_ess']:.0f} | "
                         f"{v['mean_w']:.4f} | {v['max_w']:.3g} | (no direct run yet) |"
                         " | | | | |")
            continue
        h, bad, f05, pmin = _stats(v["rows"])
        _, ubad, _, _ = _stats(v["unweighted"])
        total_h, total_bad = total_h + h, total_bad + bad
        lines.append(f"| {name} {v['overrides']} | {v['kish_ess']:.0f} | {v['mean_w']:.4f} | "
                     f"{v['max_w']:.3g} | {h} | {bad} ({0.01 * h:.2f}) | "
                     f"{binomial_tail(bad, h, 0.01):.2f} | {f05:.3f} | {pmin:.3g} | {ubad} |")
    if total_h:
        lines += ["", f"All weighted comparisons: {total_bad} of {total_h} with p < 0.01 "
                  f"(expected {0.01 * total_h:.1f} for a calibrated statistic; P(>= "
                  f"{total_bad}) = {binomial_tail(total_bad, total_h, 0.01):.3g} for "
                  "independent tests)."]
    lines += ["", "Failing histograms (p < 0.01):", ""]
    groups = [("null", {"rows": result.get("null", [])}), *result["variations"].items()]
    for name, v in groups:
        for r in v.get("rows", []):
            if r["p"] < 0.01:
                lines.append(f"- {name}: {r['histogram']} ({r['observable']}): chi2/ndf "
                             f"{r['chi2']:.1f}/{r['ndf']}, p = {r['p']:.2g}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=50000, help="events per sample")
    ap.add_argument("--out", default="validation/variations")
    args = ap.parse_args()
    out = Path(args.out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    refs = load_refs(list(ANALYSES), None)
    nominal = load_config().cluster_params()
    varied = variations(nominal)
    # name -> (seed, overrides, variations recorded)
    plan: dict[str, tuple[int, dict[str, float], list[Variation] | None]] = {
        "nominal": (1, {}, varied), "null": (2, {}, None)}
    for k, v in enumerate(varied):
        plan[v.name] = (100 + k, dict(v.overrides), None)
    info = {"command": "bench/validate_variations.py", "events": args.events, "tune": "lep",
            "seeds": {k: p[0] for k, p in plan.items()}}
    for name, (seed, overrides, var) in plan.items():
        path = out / "samples" / f"{name}.npz"
        if path.exists() and len(np.load(path)["weights"]) == args.events:
            continue
        t0 = time.time()
        analyses, tracker, seconds = make_sample(seed, overrides, var, args.events, refs)
        columns = ["nominal"] + ([v.name for v in var] if var else [])
        save_sample(path, analyses, tracker, refs, columns, seconds)
        del analyses, tracker
        report(out, varied, info)
        print(f"{time.strftime('%H:%M:%S')}: {name} done ({args.events} events, "
              f"{time.time() - t0:.0f} s wall, cpu {seconds})", flush=True)
    report(out, varied, info)


if __name__ == "__main__":
    main()
