"""Validation of the exact variation weights on every shared LEP analysis (issue 14).

For each variation: the nominal sample weighted to the varied point against a direct run
at that point, histogram by histogram, with the covariance two-sample chi2 of
hadml.analysis.weighted; and, to calibrate the statistic, the nominal sample against an
independent nominal run. Samples grow in rounds (every sample gets ``--round`` more events
per round) and the results are rewritten after each round, so a run stopped at any time
leaves a complete report for the events made so far.

    PYTHONPATH=. python bench/validate_variations.py --events 20000 --round 2000 \\
        --out validation/variations
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hadml.analysis.analyses import ANALYSES
from hadml.analysis.compare import load_refs
from hadml.analysis.weighted import EntryTracker, book_weighted, chi2_two_histograms
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


class Sample:
    """One generator setting and its analyses, filled round by round."""

    def __init__(self, label: str, seed: int, overrides: dict[str, float],
                 varied: list[Variation] | None, refs) -> None:
        self.label, self.seed, self.overrides, self.varied = label, seed, overrides, varied
        self.refs = refs
        self.analyses = {name: ANALYSES[name]() for name in refs}
        self.tracker = EntryTracker()
        self.n = 0
        self.gen_seconds = 0.0
        self.ana_seconds = 0.0

    def run(self, n_events: int, block_size: int) -> None:
        cfg = load_config(overrides={"seed": self.seed, "block_size": block_size,
                                     **self.overrides})
        gen = Generator(cfg, self.varied)
        first_block = self.n // block_size
        for b in range(n_events // block_size):
            t0 = time.perf_counter()
            res = gen.run_block(first_block + b, block_size, self.n)
            t1 = time.perf_counter()
            for k, ev in enumerate(res.events):
                fs = ev.final_state()
                # Column 0: the nominal weight 1; then the variations (nominal sample).
                w = [1.0] if res.weights is None else [1.0, *res.weights[k]]
                e = self.tracker.add_event(np.asarray(w))
                for name, a in self.analyses.items():
                    self.tracker.before_fill(name, a)
                    a.fill(fs, None)
                    self.tracker.after_fill(name, a, e)
            self.n += block_size
            self.gen_seconds += t1 - t0
            self.ana_seconds += time.perf_counter() - t1

    def histos(self, column: int):
        return book_weighted(self.analyses, self.tracker, self.refs, column)


def compare(a, b) -> list[dict]:
    rows = []
    for key, (hd, _, ha) in a.items():
        if key not in b:
            continue
        r = chi2_two_histograms(ha, b[key][2])
        if r.ndf:
            rows.append({"histogram": key, "observable": hd.observable, "chi2": r.chi2,
                         "ndf": r.ndf, "p": r.p})
    return rows


def report(samples: dict[str, Sample], varied: list[Variation], out: Path,
           info: dict) -> dict:
    nominal = samples["nominal"]
    nom0 = nominal.histos(0)
    W = nominal.tracker.weight_matrix()
    result: dict = {"info": info, "n_events": {k: s.n for k, s in samples.items()},
                    "seconds": {k: [s.gen_seconds, s.ana_seconds] for k, s in samples.items()},
                    "null": compare(nom0, samples["null"].histos(0)), "variations": {}}
    for k, v in enumerate(varied, start=1):
        rows = compare(nominal.histos(k), samples[v.name].histos(0))
        result["variations"][v.name] = {
            "overrides": v.overrides, "kish_ess": kish_ess(W[:, k]), "mean_w": float(
                W[:, k].mean()), "rows": rows,
            # The direct run against the unweighted nominal: do the histograms see it?
            "unweighted": compare(nom0, samples[v.name].histos(0))}
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "summary.md").write_text(summary(result))
    return result


def _stats(rows: list[dict]) -> tuple[int, int, float]:
    p = np.array([r["p"] for r in rows])
    return len(p), int(np.sum(p < 0.01)), float(p.min()) if len(p) else float("nan")


def summary(result: dict) -> str:
    n = result["n_events"]
    lines = [f"# Variation weights vs direct runs ({n['nominal']} nominal events, "
             f"{min(v for k, v in n.items() if k != 'nominal')} per direct run)", "",
             "| comparison | Kish ESS | <w> | histograms | p < 0.01 | min p | unweighted: "
             "p < 0.01 |", "|---|---|---|---|---|---|---|"]
    h, bad, pmin = _stats(result["null"])
    lines.append(f"| null: nominal vs nominal (other seed) | - | - | {h} | {bad} | "
                 f"{pmin:.3g} | - |")
    for name, v in result["variations"].items():
        h, bad, pmin = _stats(v["rows"])
        _, ubad, _ = _stats(v["unweighted"])
        lines.append(f"| {name} {v['overrides']} | {v['kish_ess']:.0f} | {v['mean_w']:.4f} | "
                     f"{h} | {bad} | {pmin:.3g} | {ubad} |")
    lines += ["", "Failing histograms (p < 0.01):", ""]
    for name, v in [("null", {"rows": result["null"]}), *result["variations"].items()]:
        for r in v["rows"]:
            if r["p"] < 0.01:
                lines.append(f"- {name}: {r['histogram']} ({r['observable']}): chi2/ndf "
                             f"{r['chi2']:.1f}/{r['ndf']}, p = {r['p']:.2g}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20000, help="events per sample")
    ap.add_argument("--round", type=int, default=2000, help="events per sample per round")
    ap.add_argument("--out", default="validation/variations")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    refs = load_refs(list(ANALYSES), None)
    nominal = load_config().cluster_params()
    varied = variations(nominal)
    samples = {"nominal": Sample("nominal", 1, {}, varied, refs),
               "null": Sample("null", 2, {}, None, refs)}
    for k, v in enumerate(varied):
        samples[v.name] = Sample(v.name, 100 + k, dict(v.overrides), None, refs)
    info = {"command": "bench/validate_variations.py", "events": args.events,
            "round": args.round, "tune": "lep", "seeds": {k: s.seed for k, s in samples.items()}}
    while samples["nominal"].n < args.events:
        for s in samples.values():
            s.run(args.round, 100)
        res = report(samples, varied, out, info)
        print(f"{time.strftime('%H:%M:%S')}: {samples['nominal'].n} events per sample; "
              f"null failures {_stats(res['null'])[1]}", flush=True)


if __name__ == "__main__":
    main()
