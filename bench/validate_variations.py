"""Validation of the exact variation weights on every shared LEP analysis (issue 14).

For each variation: the nominal sample weighted to the varied point against a direct run
at that point, histogram by histogram, with the covariance two-sample chi2 of
hadml.analysis.weighted; and, to calibrate the statistic, the nominal sample against an
independent nominal run. All samples grow together in rounds (one process, one core):
each round's events of each sample are analysed and saved as a chunk, so an interrupted
run resumes after the last chunk with the same events, and the report (``results.json``,
``summary.md``) compares the samples at the events they all have.

    PYTHONPATH=. python bench/validate_variations.py --events 50000 --round 2500 \\
        --out validation/variations
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import time
from pathlib import Path

import numpy as np

from hadml.analysis.analyses import ANALYSES
from hadml.analysis.compare import load_refs
from hadml.analysis.weighted import (
    EntryTracker,
    WeightedHisto,
    book_weighted_columns,
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


class Sample:
    """One generator setting, kept alive across rounds; each round's events are filled
    into fresh analyses and saved as a chunk (``OUT/chunks/NAME/NNNN.pkl``), so an
    interrupted run resumes after the last saved chunk with the same events (the blocks
    of a run are independent of how they are split into rounds)."""

    def __init__(self, name: str, seed: int, overrides: dict[str, float],
                 varied: list[Variation] | None, refs, out: Path) -> None:
        self.name, self.seed, self.overrides, self.varied = name, seed, overrides, varied
        self.refs = refs
        self.dir = out / "chunks" / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.gen: Generator | None = None

    def chunks(self) -> list[Path]:
        return sorted(self.dir.glob("[0-9][0-9][0-9][0-9].pkl"))

    @property
    def n(self) -> int:
        return len(self.chunks()) * self.round_size

    round_size = 0

    def run_round(self) -> dict[str, float]:
        """Generate and analyse the next ``round_size`` events; save them as a chunk."""
        if self.gen is None:
            cfg = load_config(overrides={"seed": self.seed, "block_size": BLOCK,
                                         **self.overrides})
            self.gen = Generator(cfg, self.varied)
        k = len(self.chunks())
        first = k * self.round_size
        analyses = {name: ANALYSES[name]() for name in self.refs}
        tracker = EntryTracker()
        seconds = {"generate": 0.0, "analyse": 0.0}
        for b in range(self.round_size // BLOCK):
            t0 = time.process_time()
            res = self.gen.run_block(first // BLOCK + b, BLOCK, first + b * BLOCK)
            t1 = time.process_time()
            for i, ev in enumerate(res.events):
                fs = ev.final_state()
                w = [1.0] if res.weights is None else [1.0, *res.weights[i]]
                e = tracker.add_event(np.asarray(w))
                for name, a in analyses.items():
                    tracker.before_fill(name, a)
                    a.fill(fs, None)
                    tracker.after_fill(name, a, e)
            seconds["generate"] += t1 - t0
            seconds["analyse"] += time.process_time() - t1
        chunk = {"analyses": {}, "n_events": tracker.n_events, "seconds": seconds,
                 "weights": tracker.weight_matrix(),
                 "index": {k: tracker.entries(*k) for k in tracker.index},
                 "counted": {k: np.asarray(v, np.int64) for k, v in tracker.counted.items()}}
        for name, a in analyses.items():
            a.data = {key: [arr] for key, arr in a.arrays().items()}
            chunk["analyses"][name] = a
        tmp = self.dir / f"{k:04d}.tmp"
        tmp.write_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(self.dir / f"{k:04d}.pkl")
        return seconds


def load_chunks(paths: list[Path]) -> tuple[dict, EntryTracker, list[float]]:
    """The analyses and entry tracker of a sample's chunks, concatenated in order."""
    analyses: dict = {}
    tracker = EntryTracker()
    seconds = [0.0, 0.0]
    offset = 0
    for path in paths:
        chunk = pickle.loads(path.read_bytes())
        for name, a in chunk["analyses"].items():
            if name not in analyses:
                analyses[name] = a
            else:
                base = analyses[name]
                base.n_events += a.n_events
                for key, arrs in a.data.items():
                    base.data.setdefault(key, []).extend(arrs)
        tracker.weights.extend(chunk["weights"])
        for key, idx in chunk["index"].items():
            tracker.index.setdefault(key, []).append(idx + offset)
        for name, ev in chunk["counted"].items():
            tracker.counted.setdefault(name, []).extend((ev + offset).tolist())
        offset += chunk["n_events"]
        seconds[0] += chunk["seconds"]["generate"]
        seconds[1] += chunk["seconds"]["analyse"]
    return analyses, tracker, seconds


class Booked:
    """A sample's weighted histograms per weight column."""

    def __init__(self, paths: list[Path], refs, columns: list[str]) -> None:
        analyses, tracker, self.seconds = load_chunks(paths)
        self.weights = tracker.weight_matrix()
        self.n = tracker.n_events
        booked = book_weighted_columns(analyses, tracker, refs, range(len(columns)))
        self.by_column = {col: {key: (hd.observable, h) for key, (hd, _, h) in
                                booked[c].items()} for c, col in enumerate(columns)}

    def histos(self, column: str) -> dict[str, tuple[str, WeightedHisto]]:
        return self.by_column[column]


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


def report(out: Path, samples: dict[str, Sample], varied: list[Variation], refs,
           info: dict) -> dict | None:
    """Compare every sample at the events all of them have (the same number of chunks)."""
    n_chunks = min(len(s.chunks()) for s in samples.values())
    if n_chunks == 0:
        return None
    nominal = Booked(samples["nominal"].chunks()[:n_chunks], refs,
                     ["nominal"] + [v.name for v in varied])
    nom0 = nominal.histos("nominal")
    W = nominal.weights
    null = Booked(samples["null"].chunks()[:n_chunks], refs, ["nominal"])
    result: dict = {"info": info, "n_events": {"nominal": nominal.n, "null": null.n},
                    "cpu_seconds": {"nominal": nominal.seconds, "null": null.seconds},
                    "null": compare(nom0, null.histos("nominal")), "variations": {}}
    del null
    for k, v in enumerate(varied, start=1):
        direct = Booked(samples[v.name].chunks()[:n_chunks], refs, ["nominal"])
        result["n_events"][v.name] = direct.n
        result["cpu_seconds"][v.name] = direct.seconds
        dh = direct.histos("nominal")
        result["variations"][v.name] = {
            "overrides": v.overrides, "kish_ess": kish_ess(W[:, k]),
            "mean_w": float(W[:, k].mean()), "max_w": float(W[:, k].max()),
            "rows": compare(nominal.histos(v.name), dh),
            # The direct run against the unweighted nominal: do the histograms see it?
            "unweighted": compare(nom0, dh)}
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "summary.md").write_text(summary(result))
    return result


def _stats(rows: list[dict]) -> tuple[int, int, float, float]:
    p = np.array([r["p"] for r in rows])
    if not len(p):
        return 0, 0, float("nan"), float("nan")
    return len(p), int(np.sum(p < 0.01)), float(np.mean(p < 0.05)), float(p.min())


def null_scale(rows: list[dict]) -> float:
    """c = sum chi2 / sum ndf of the null comparison (1 for a calibrated statistic)."""
    return sum(r["chi2"] for r in rows) / max(sum(r["ndf"] for r in rows), 1)


def n_scaled_fails(rows: list[dict], scale: float) -> int:
    """Histograms with P(chi2_ndf >= chi2 / scale) < 0.01: the null-scaled p-values."""
    from hadml.train.metrics import chi2_sf

    return sum(chi2_sf(r["chi2"] / scale, r["ndf"]) < 0.01 for r in rows)


def summary(result: dict) -> str:
    n = result["n_events"]
    scale = null_scale(result["null"]) if result.get("null") else 1.0
    lines = [f"# Variation weights vs direct runs ({n['nominal']} nominal events, "
             f"{min([v for k, v in n.items() if k != 'nominal'] or [0])} per direct run)", "",
             f"Null scale c = sum chi2 / sum ndf of the null comparison = {scale:.3f}.", "",
             "| comparison | Kish ESS | <w> | max w | histograms | p < 0.01 (expected) | "
             "P(>= that) | p_c < 0.01 | frac p < 0.05 | min p | unweighted: p < 0.01 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    total_h = total_bad = total_scaled = 0
    if "null" in result:
        h, bad, f05, pmin = _stats(result["null"])
        lines.append(f"| null: nominal vs nominal (other seed) | - | - | - | {h} | {bad} "
                     f"({0.01 * h:.2f}) | {binomial_tail(bad, h, 0.01):.2f} | "
                     f"{n_scaled_fails(result['null'], scale)} | {f05:.3f} | "
                     f"{pmin:.3g} | - |")
    for name, v in result["variations"].items():
        if "rows" not in v:
            lines.append(f"| {name} {v['overrides']} | {v['kish_ess']:.0f} | "
                         f"{v['mean_w']:.4f} | {v['max_w']:.3g} | (no direct run yet) |"
                         " | | | | |")
            continue
        h, bad, f05, pmin = _stats(v["rows"])
        _, ubad, _, _ = _stats(v["unweighted"])
        scaled = n_scaled_fails(v["rows"], scale)
        total_h, total_bad, total_scaled = total_h + h, total_bad + bad, total_scaled + scaled
        lines.append(f"| {name} {v['overrides']} | {v['kish_ess']:.0f} | {v['mean_w']:.4f} | "
                     f"{v['max_w']:.3g} | {h} | {bad} ({0.01 * h:.2f}) | "
                     f"{binomial_tail(bad, h, 0.01):.2f} | {scaled} | {f05:.3f} | "
                     f"{pmin:.3g} | {ubad} |")
    if total_h:
        lines += ["", f"All weighted comparisons: {total_bad} of {total_h} with p < 0.01 "
                  f"(expected {0.01 * total_h:.1f} for a calibrated statistic; P(>= "
                  f"{total_bad}) = {binomial_tail(total_bad, total_h, 0.01):.3g} for "
                  f"independent tests); with the null-scaled p_c: {total_scaled}."]
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
    ap.add_argument("--round", type=int, default=2500, help="events per sample per round")
    ap.add_argument("--report-every", type=int, default=2,
                    help="rewrite the report after this many rounds")
    ap.add_argument("--report-only", action="store_true",
                    help="only write the report from the saved chunks")
    ap.add_argument("--out", default="validation/variations")
    args = ap.parse_args()
    if args.round % BLOCK or args.events % args.round:
        ap.error(f"--round must be a multiple of {BLOCK} and divide --events")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    refs = load_refs(list(ANALYSES), None)
    config = load_config()
    # The chunks of a resumed run must come from the same settings: the shipped tune may
    # have changed since the first round (it did once, mid-run), which would mix two tunes.
    setting = json.loads(json.dumps(config.to_dict(), sort_keys=True, default=str))
    setting_file = out / "setting.json"
    if setting_file.exists():
        saved = json.loads(setting_file.read_text())
        if saved != setting:
            changed = sorted(k for k in set(saved) | set(setting)
                             if saved.get(k) != setting.get(k))
            ap.error(f"{out} holds chunks made with other settings (differing: "
                     f"{', '.join(changed)}); use a new --out or the settings of "
                     f"{setting_file}")
    elif not args.report_only:
        setting_file.write_text(json.dumps(setting, indent=1, sort_keys=True) + "\n")
    nominal = config.cluster_params()
    varied = variations(nominal)
    Sample.round_size = args.round
    samples = {"nominal": Sample("nominal", 1, {}, varied, refs, out),
               "null": Sample("null", 2, {}, None, refs, out)}
    for k, v in enumerate(varied):
        samples[v.name] = Sample(v.name, 100 + k, dict(v.overrides), None, refs, out)
    info = {"command": "bench/validate_variations.py", "round": args.round, "tune": "lep",
            "seeds": {k: s.seed for k, s in samples.items()}}
    if args.report_only:
        report(out, samples, varied, refs, info)
        return
    rounds = 0
    while min(s.n for s in samples.values()) < args.events:
        target = min(s.n for s in samples.values()) + args.round
        for s in samples.values():
            if s.n < target:
                s.run_round()
        rounds += 1
        print(f"{time.strftime('%H:%M:%S')}: {target} events per sample", flush=True)
        if rounds % args.report_every == 0 or target >= args.events:
            res = report(out, samples, varied, refs, info)
            if res is not None:
                print(f"  report: null failures {_stats(res['null'])[1]}", flush=True)


if __name__ == "__main__":
    main()
