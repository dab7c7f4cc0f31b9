"""Tune the classic cluster model to LEP data by a coordinate scan.

Method: starting from the current parameters, each tuned parameter in turn is scanned over
a grid with the others held at their best values so far; the value with the lowest
objective is kept; the whole cycle runs ``passes`` times. Every point is a fresh run of
``n_events`` classic events with the SAME seed (common random numbers: differences between
points are not dominated by generation noise), analysed with the ALEPH 1996 and PDG
multiplicity analyses of ``hadml compare``.

Objective = the overall chi2/ndf of ``hadml compare`` over all histograms of both analyses
(the figure of merit the LEP comparison reports). Also recorded per point: the mean
chi2/ndf over the ALEPH event-shape, x_p and multiplicity histograms (``TUNE_HISTOGRAMS``),
the mean chi2 over the light-hadron yields (pi+-, K+-, K0, p, Lambda,
``TUNE_MULTIPLICITIES``) and <n_ch>.

    python -m hadml.analysis.tune --refdir ../shared/refdata -n 5000 --jobs 2 \
        -o hadml/tunes/lep.yaml
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ALEPH = "ALEPH_1996_S3486095"
PDG = "PDG_HADRON_MULTIPLICITIES"
TUNE_HISTOGRAMS = tuple(f"{ALEPH}/d{k:02d}-x01-y01" for k in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                              11, 12, 17, 18, 19))
TUNE_MULTIPLICITIES = tuple(f"{PDG}/{h}" for h in ("d01-x01-y03", "d03-x01-y03",
                                                   "d04-x01-y03", "d38-x01-y03",
                                                   "d39-x01-y03"))

#: Default scan grids: the light-flavour parameters that set multiplicities and shapes.
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "PwtSquark": (0.15, 0.22, 0.3, 0.374094),
    "FissionPwtSquark": (0.2, 0.374094, 0.5),
    "PwtDIquark": (0.33107, 0.6, 0.9, 1.2),
    "shower_pt_min": (0.6, 0.655, 0.75),
    "ClMaxLight": (3.0, 3.52869, 4.0),
    "ClPowLight": (1.2, 1.5, 1.84937, 2.2),
    "PSplitLight": (0.7, 0.8, 0.914156, 1.05),
}


@dataclass
class Score:
    overrides: dict[str, float]
    objective: float  # overall chi2/ndf
    shapes: float  # mean chi2/ndf over TUNE_HISTOGRAMS
    yields: float  # mean chi2 over TUNE_MULTIPLICITIES
    mean_charged: float
    seconds: float


def score(overrides: Mapping[str, float], n_events: int, seed: int,
          refdir: str | Path | None, base_config: str | Path | None = None) -> Score:
    """Generate classic events with ``overrides`` and score them against the data."""
    import hadml
    from hadml.analysis import compare_events
    from hadml.config import load_config

    start = time.perf_counter()
    # Scans start from Herwig 7.3's values, whatever tune is the default.
    config = load_config(base_config, {"tune": "herwig73", **overrides,
                                       "hadronization": "classic"})
    events = (e.final_state() for e in hadml.iter_events(n_events, seed=seed, config=config))
    res = compare_events({"mc": events}, refs=[ALEPH, PDG], refdir=refdir, plots=False)
    by_id = {h.id: h for h in res.histos}
    shapes = [by_id[k].chi2["mc"] / max(by_id[k].ndf["mc"], 1) for k in TUNE_HISTOGRAMS]
    yields = [by_id[k].chi2["mc"] for k in TUNE_MULTIPLICITIES]
    mean_nch = float(by_id[f"{ALEPH}/d19-x01-y01"].mc["mc"].y[0])
    chi2, ndf = res.total("mc")
    return Score(dict(overrides), chi2 / max(ndf, 1), sum(shapes) / len(shapes),
                 sum(yields) / len(yields), mean_nch, time.perf_counter() - start)


def coordinate_scan(grid: Mapping[str, Sequence[float]], n_events: int, seed: int,
                    refdir: str | Path | None, passes: int = 1, jobs: int = 1,
                    start: Mapping[str, float] | None = None, known: Sequence[Score] = (),
                    log=print) -> tuple[dict[str, float], list[Score]]:
    """Scan each parameter over its grid in turn (others at their best); return the best
    overrides and every scored point. ``known``: points scored already (not re-run)."""
    best = dict(start or {})
    history: list[Score] = list(known)
    cache: dict[tuple, Score] = {_key(s.overrides): s for s in known}
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        for p in range(passes):
            for name, values in grid.items():
                points = [{**best, name: v} for v in values]
                todo = [pt for pt in points if _key(pt) not in cache]
                futures = [pool.submit(score, pt, n_events, seed, refdir) for pt in todo]
                for pt, fut in zip(todo, futures, strict=True):
                    cache[_key(pt)] = fut.result()
                    history.append(cache[_key(pt)])
                scored = [cache[_key(pt)] for pt in points]
                winner = min(scored, key=lambda s: s.objective)
                best = dict(winner.overrides)
                log(f"pass {p + 1} {name:14s} " + "  ".join(
                    f"{pt[name]:g}:{s.objective:.2f}" for pt, s in zip(points, scored,
                                                                       strict=True))
                    + f"  -> {best[name]:g}")
    return best, history


def _key(point: Mapping[str, float]) -> tuple:
    return tuple(sorted(point.items()))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hadml.analysis.tune", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--events", type=int, default=5000, help="events per point")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--refdir", default=None, help="reference YODA directory "
                    "(default: $HADML_REFDIR)")
    ap.add_argument("--passes", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="points scored in parallel")
    ap.add_argument("--grid", default=None,
                    help="JSON {parameter: [values]} (default: the light-flavour grid)")
    ap.add_argument("--start", default=None,
                    help="tune YAML to start from (default: Herwig 7.3's values)")
    ap.add_argument("-o", "--output", required=True, help="tune YAML to write")
    ap.add_argument("--history", default=None, help="JSON file for every scored point")
    args = ap.parse_args(argv)
    grid = json.loads(args.grid) if args.grid else DEFAULT_GRID
    nominal = score({}, args.events, args.seed, args.refdir)
    print(f"Herwig 7.3 defaults: objective {nominal.objective:.2f} (shapes "
          f"{nominal.shapes:.2f}, yields {nominal.yields:.2f}), <n_ch> {nominal.mean_charged:.2f}")
    start, known = {}, [nominal]
    if args.start:
        from hadml.config import load_tune

        doc = load_tune(str(Path(args.start).resolve()))
        start = {**{k: v for k, v in doc.items() if k != "cluster"}, **doc.get("cluster", {})}
        known.append(score(start, args.events, args.seed, args.refdir))
        print(f"start {args.start}: objective {known[-1].objective:.2f}")
    best, history = coordinate_scan(grid, args.events, args.seed, args.refdir, args.passes,
                                    args.jobs, start=start, known=known)
    final = next(s for s in history if s.overrides == best)
    print(f"tuned: objective {final.objective:.2f} (shapes {final.shapes:.2f}, yields "
          f"{final.yields:.2f}), <n_ch> {final.mean_charged:.2f}")
    shower = {k: v for k, v in best.items() if k.startswith("shower_")}
    cluster = {k: v for k, v in best.items() if not k.startswith("shower_")}
    doc = {**shower, "cluster": cluster}
    header = (f"# hadml classic tune to LEP (ALEPH 1996 event shapes and multiplicity, PDG\n"
              f"# identified multiplicities): coordinate scan, {args.events} events per point,\n"
              f"# seed {args.seed}, {args.passes} pass(es); objective {final.objective:.2f} "
              f"(Herwig 7.3 defaults: {nominal.objective:.2f}).\n"
              f"# Made by: python -m hadml.analysis.tune --refdir <refdata> -n {args.events} "
              f"--seed {args.seed} \\\n#   --passes {args.passes} --jobs {args.jobs} -o <file>"
              f"{' (default grid)' if not args.grid else ''}\n")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(header + yaml.safe_dump(doc, sort_keys=True))
    if args.history:
        Path(args.history).write_text(json.dumps([s.__dict__ for s in history], indent=1))
    print(f"tune written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
